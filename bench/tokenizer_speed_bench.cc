// bench/tokenizer_speed_bench.cc — encode throughput of trainer/tokenizer on a corpus of documents,
// on 1…N threads (bench/tokenizer_speed.py writes the corpus and runs tiktoken on the same texts).
//
//   build/bench/tokenizer_speed_bench CORPUS --tokenizer cl100k_base [--threads 1,2] [--rounds 3]
//
// CORPUS: documents, each a little-endian uint32 byte length then the UTF-8 bytes. Every round
// loads a fresh Tokenizer (so the piece cache starts empty) and encodes every document with
// EncodeOrdinary; threads take documents from a shared counter. Prints one JSON line per thread
// count: the best round's wall-clock seconds and MB/s (10^6 bytes of input text per second), the
// best round's CPU seconds of the process (all threads) and MB per CPU-second, the token count.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "trainer/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool ReadCorpus(const char* path, std::string* data, std::vector<std::string_view>* docs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  data->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  size_t at = 0;
  std::vector<std::pair<size_t, size_t>> spans;
  while (at + 4 <= data->size()) {
    uint32_t len = 0;
    std::memcpy(&len, data->data() + at, 4);
    at += 4;
    if (at + len > data->size()) return false;
    spans.emplace_back(at, len);
    at += len;
  }
  for (auto [start, len] : spans) docs->emplace_back(data->data() + start, len);
  return at == data->size();
}

std::vector<int> ParseThreads(const std::string& s) {
  std::vector<int> out;
  size_t at = 0;
  while (at < s.size()) {
    size_t comma = s.find(',', at);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(std::atoi(s.substr(at, comma - at).c_str()));
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS --tokenizer NAME [--threads 1,2] [--rounds 3]\n",
                 argv[0]);
    return 2;
  }
  std::string name = "cl100k_base", threads_arg = "1";
  int rounds = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tokenizer") {
      name = argv[i + 1];
    } else if (flag == "--threads") {
      threads_arg = argv[i + 1];
    } else if (flag == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::string data;
  std::vector<std::string_view> docs;
  if (!ReadCorpus(argv[1], &data, &docs)) {
    std::fprintf(stderr, "%s: not a corpus file\n", argv[1]);
    return 1;
  }
  size_t bytes = 0;
  for (std::string_view d : docs) bytes += d.size();

  for (int threads : ParseThreads(threads_arg)) {
    double best = 1e30, best_cpu = 1e30;
    size_t tokens = 0;
    for (int r = 0; r < rounds; ++r) {
      auto loaded = winnow::trainer::Tokenizer::Load(name);
      if (!loaded.ok()) {
        std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
        return 1;
      }
      const winnow::trainer::Tokenizer& t = **loaded;
      std::atomic<size_t> next{0}, total{0};
      const auto work = [&] {
        size_t count = 0;
        for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < docs.size();) {
          count += t.EncodeOrdinary(docs[i]).size();
        }
        total += count;
      };
      const auto t0 = Clock::now();
      const double cpu0 = CpuSeconds();
      std::vector<std::thread> pool;
      for (int k = 1; k < threads; ++k) pool.emplace_back(work);
      work();
      for (auto& th : pool) th.join();
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      best = std::min(best, seconds);
      best_cpu = std::min(best_cpu, CpuSeconds() - cpu0);
      tokens = total;
    }
    std::printf(
        "{\"impl\": \"winnow\", \"tokenizer\": \"%s\", \"threads\": %d, \"docs\": %zu, "
        "\"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.4f, \"mb_s\": %.2f, "
        "\"cpu_seconds\": %.4f, \"mb_per_cpu_s\": %.2f}\n",
        name.c_str(), threads, docs.size(), bytes, tokens, best, bytes / best / 1e6, best_cpu,
        bytes / best_cpu / 1e6);
    std::fflush(stdout);
  }
  return 0;
}
