// `winnow extract FILE.html|- [--url URL]`: the main text of one page on stdout.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "pipeline/byte_stream.h"
#include "pipeline/html/extractor.h"
#include "pipeline/warc/charset.h"
#include "services/commands.h"

namespace winnow::services {
namespace {

struct ExtractFlags {
  std::string file;
  std::string url;
  bool title = false;
};

int ExtractMain(const ExtractFlags& flags) {
  std::string bytes;
  if (flags.file == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    absl::StatusOr<std::unique_ptr<pipeline::ByteStream>> in = pipeline::OpenLocalFile(flags.file);
    absl::StatusOr<std::string> all =
        in.ok() ? pipeline::ReadAll(**in) : absl::StatusOr<std::string>(in.status());
    if (!all.ok()) {
      std::fprintf(stderr, "winnow extract: %s\n", std::string(all.status().message()).c_str());
      return kExitIoError;
    }
    bytes = std::move(*all);
  }
  absl::StatusOr<std::string> html = pipeline::DecodeToUtf8(bytes, "");
  if (!html.ok()) {
    std::fprintf(stderr, "winnow extract: %s: cannot decode the page's charset\n",
                 flags.file.c_str());
    return kExitIoError;
  }
  pipeline::Extraction page = pipeline::ExtractMainText(*html, flags.url);
  if (!page.dropped_reason.empty()) {
    std::fprintf(stderr, "winnow extract: %s: no main text (%s)\n", flags.file.c_str(),
                 page.dropped_reason.c_str());
    return kExitOk;
  }
  if (flags.title) std::printf("%s\n\n", page.title.c_str());
  std::fwrite(page.text.data(), 1, page.text.size(), stdout);
  if (!page.text.empty() && page.text.back() != '\n') std::fputc('\n', stdout);
  return kExitOk;
}

}  // namespace

void AddExtractCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ExtractFlags>();
  CLI::App* sub = app.add_subcommand("extract", "print the main text of one HTML page");
  sub->add_option("file", flags->file, "an HTML file, or - for stdin")->required();
  sub->add_option("--url", flags->url, "the page's URL (helps some heuristics)");
  sub->add_flag("--title", flags->title, "print the title first");
  sub->callback([flags, run] { *run = [flags] { return ExtractMain(*flags); }; });
}

}  // namespace winnow::services
