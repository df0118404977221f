// services/line_pipeline.h — stdin lines → stdout lines, one out per line in, in input order,
// transformed on several threads (oneTBB). Shared by the commands that filter or encode JSONL.
#pragma once

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

namespace winnow::services {

// What a line becomes: `out` (nothing is written when `skip`), and a warning for stderr, which is
// printed with the line's number ("PREFIX: line N: WARNING").
struct LineResult {
  std::string out;
  std::string warning;
  bool skip = false;
};

// Returns true when stdout took every line.
inline bool MapLines(int threads, const char* prefix,
                     const std::function<LineResult(const std::string& line)>& transform) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));
  std::ios::sync_with_stdio(false);
  // cin is tied to cout: every read would flush cout from the reading thread while the writing
  // thread appends to it. Untie them; the two serial stages then never share a stream.
  std::cin.tie(nullptr);
  struct Line {
    std::string in;
    LineResult result;
  };
  int64_t number = 0;
  tbb::parallel_pipeline(
      static_cast<size_t>(threads) * 8,
      tbb::make_filter<void, std::shared_ptr<Line>>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> std::shared_ptr<Line> {
            auto line = std::make_shared<Line>();
            if (!std::getline(std::cin, line->in)) {
              fc.stop();
              return nullptr;
            }
            return line;
          }) &
          tbb::make_filter<std::shared_ptr<Line>, std::shared_ptr<Line>>(
              tbb::filter_mode::parallel,
              [&](std::shared_ptr<Line> line) {
                line->result = transform(line->in);
                return line;
              }) &
          tbb::make_filter<std::shared_ptr<Line>, void>(
              tbb::filter_mode::serial_in_order, [&](std::shared_ptr<Line> line) {
                ++number;
                if (!line->result.warning.empty()) {
                  std::fprintf(stderr, "%s: line %lld: %s\n", prefix,
                               static_cast<long long>(number), line->result.warning.c_str());
                }
                if (!line->result.skip) std::cout << line->result.out << '\n';
              }));
  std::cout.flush();
  return static_cast<bool>(std::cout);
}

}  // namespace winnow::services
