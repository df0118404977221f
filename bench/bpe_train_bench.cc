// BPE training speed and memory: count chunks of N MB of real text (the shared data's documents,
// repeated until N MB), then learn a vocabulary; prints time per phase and peak RSS.
//
//   build/bench/bpe_train_bench [--megabytes 100] [--vocab-size 32768] [--html] [--text FILE ...]
//                               [--zipf-words N] [--dump-jsonl FILE] [--out DIR]
//
// Documents: the article text of ../shared/data/extraction-dev (tags dropped), GSM8K, hh-rlhf
// (chosen and rejected), ShareGPT, self-instruct; --html adds the extraction pages' raw HTML (25 MB
// of real web markup: many more distinct chunks). --text FILE uses those files instead (one
// document per file). --zipf-words N streams synthetic text instead: words drawn from a lexicon of
// N random lower-case words (Zipf-distributed, s = 1), for a chunk table as large as a web corpus's
// (real 100 MB crawls have millions of distinct chunks; the shared data has ~0.2 M).
// --dump-jsonl FILE also writes the documents fed, as {"text"} lines (for other trainers); --out
// DIR saves the trained tokenizer there (tokenizer_files.h).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer/tokenizer/bpe_trainer.h"
#include "trainer/tokenizer/tokenizer_files.h"

namespace {

namespace fs = std::filesystem;
using winnow::trainer::BpeTrainer;
using winnow::trainer::BpeTrainerOptions;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

std::vector<std::string> SharedDocuments(const fs::path& data, bool html) {
  std::vector<std::string> docs;
  std::vector<fs::path> pages;
  for (const auto& entry : fs::directory_iterator(data / "extraction-dev")) {
    if (fs::exists(entry.path() / "expected.html")) pages.push_back(entry.path());
  }
  std::sort(pages.begin(), pages.end());
  for (const fs::path& page : pages) {
    std::string text;
    bool in_tag = false;
    for (char c : ReadFile(page / "expected.html")) {
      if (c == '<') in_tag = true;
      if (!in_tag) text += c;
      if (c == '>') in_tag = false;
    }
    docs.push_back(std::move(text));
    if (html) docs.push_back(ReadFile(page / "source.html"));
  }
  for (const char* file : {"gsm8k/train.jsonl", "gsm8k/test.jsonl"}) {
    std::ifstream in(data / "posttrain" / file);
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      docs.push_back(j["question"].get<std::string>() + "\n" + j["answer"].get<std::string>());
    }
  }
  {
    // hh-rlhf is gzipped: read it through zcat.
    const std::string cmd =
        "zcat '" + (data / "posttrain/hh-rlhf-harmless/test.jsonl.gz").string() + "'";
    if (FILE* pipe = popen(cmd.c_str(), "r")) {
      std::string all;
      char buffer[1 << 16];
      for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) all.append(buffer, n);
      pclose(pipe);
      std::istringstream in(all);
      for (std::string line; std::getline(in, line);) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) continue;
        docs.push_back(j.value("chosen", ""));
        docs.push_back(j.value("rejected", ""));
      }
    }
  }
  const nlohmann::json sharegpt = nlohmann::json::parse(
      ReadFile(data / "posttrain/sharegpt/conversations.json"), nullptr, false);
  if (sharegpt.is_array()) {
    for (const auto& conv : sharegpt) {
      std::string text;
      for (const auto& turn : conv["conversations"])
        text += turn["value"].get<std::string>() + "\n";
      docs.push_back(std::move(text));
    }
  }
  for (const char* file :
       {"self-instruct/seed_tasks.jsonl", "self-instruct/user_oriented_instructions.jsonl"}) {
    std::ifstream in(data / "posttrain" / file);
    for (std::string line; std::getline(in, line);) docs.push_back(line);
  }
  return docs;
}

// Synthetic documents of ~64 KB: Zipf-distributed words from a random lexicon, with spaces,
// punctuation and newlines.
class ZipfText {
 public:
  explicit ZipfText(size_t words) : random_(1234) {
    const char* letters =
        "eeeeeeeeeeeettttttttaaaaaaaaooooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrr"
        "ddddlllluuucccmmmwwffggyyppbbvkjxqz";
    const size_t n = std::strlen(letters);
    lexicon_.reserve(words);
    for (size_t i = 0; i < words; ++i) {
      std::string w;
      const size_t length = 2 + random_() % 11;
      for (size_t k = 0; k < length; ++k) w += letters[random_() % n];
      lexicon_.push_back(std::move(w));
    }
    double sum = 0;
    cumulative_.reserve(words);
    for (size_t i = 0; i < words; ++i) cumulative_.push_back(sum += 1.0 / (i + 1));
  }
  std::string Next() {
    std::string doc;
    std::uniform_real_distribution<double> u(0, cumulative_.back());
    while (doc.size() < 65536) {
      const size_t i = std::lower_bound(cumulative_.begin(), cumulative_.end(), u(random_)) -
                       cumulative_.begin();
      doc += lexicon_[i];
      const uint64_t r = random_() % 20;
      doc += r == 0 ? ". " : r == 1 ? ", " : r == 2 ? "\n" : " ";
    }
    return doc;
  }

 private:
  std::mt19937_64 random_;
  std::vector<std::string> lexicon_;
  std::vector<double> cumulative_;
};

}  // namespace

int main(int argc, char** argv) {
  double megabytes = 100;
  size_t vocab_size = 32768;
  bool html = false;
  size_t zipf_words = 0;
  std::string dump, out;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--megabytes" && i + 1 < argc) {
      megabytes = std::atof(argv[++i]);
    } else if (arg == "--vocab-size" && i + 1 < argc) {
      vocab_size = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--zipf-words" && i + 1 < argc) {
      zipf_words = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--dump-jsonl" && i + 1 < argc) {
      dump = argv[++i];
    } else if (arg == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (arg == "--html") {
      html = true;
    } else if (arg == "--text" && i + 1 < argc) {
      files.push_back(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--megabytes N] [--vocab-size N] [--html] [--text FILE ...] "
                   "[--zipf-words N] [--dump-jsonl FILE] [--out DIR]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<std::string> docs;
  std::unique_ptr<ZipfText> zipf;
  if (zipf_words > 0) {
    zipf = std::make_unique<ZipfText>(zipf_words);
  } else if (files.empty()) {
    docs = SharedDocuments(fs::path(WINNOW_BENCH_SHARED_DIR) / "data", html);
  } else {
    for (const std::string& f : files) docs.push_back(ReadFile(f));
  }
  size_t distinct_bytes = 0;
  for (const std::string& d : docs) distinct_bytes += d.size();
  const double rss_corpus = PeakRssMb();
  if (zipf != nullptr) {
    std::printf(
        "corpus: synthetic, a lexicon of %zu Zipf words; peak RSS after making it %.0f MB\n",
        zipf_words, rss_corpus);
  } else {
    std::printf("corpus: %zu documents, %.1f MB distinct text; peak RSS after loading %.0f MB\n",
                docs.size(), distinct_bytes / 1e6, rss_corpus);
  }

  BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  options.progress_every = 4096;
  options.progress = [](const winnow::trainer::BpeProgress& p) {
    std::printf("  %zu/%zu merges, last count %llu, %.1f s\n", p.merges_done, p.merges_total,
                static_cast<unsigned long long>(p.last_count), p.seconds);
    std::fflush(stdout);
  };
  BpeTrainer trainer(options);
  double generate_s = 0, dump_s = 0;  // making or writing text is not counting: timed apart
  std::ofstream dump_out;
  if (!dump.empty()) dump_out.open(dump, std::ios::binary);
  const auto feed = [&](std::string_view text) {
    if (dump_out.is_open()) {
      const auto before = std::chrono::steady_clock::now();
      dump_out << nlohmann::json{{"text", std::string(text)}}.dump(
                      -1, ' ', false, nlohmann::json::error_handler_t::replace)
               << "\n";
      dump_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    }
    trainer.AddText(text);
  };
  const auto start = std::chrono::steady_clock::now();
  const uint64_t target = static_cast<uint64_t>(megabytes * 1e6);
  uint64_t fed = 0;
  while (zipf != nullptr && fed < target) {
    const auto before = std::chrono::steady_clock::now();
    const std::string d = zipf->Next();
    generate_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    feed(d);
    fed += d.size();
  }
  while (fed < target) {
    for (const std::string& d : docs) {
      const size_t take = std::min<uint64_t>(d.size(), target - fed);
      feed(std::string_view(d).substr(0, take));
      fed += take;
      if (fed >= target) break;
    }
  }
  const double count_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - generate_s -
      dump_s;
  std::printf(
      "count: %.1f MB in %.2f s (%.1f MB/s), %llu chunks, %llu distinct; peak RSS %.0f MB\n",
      fed / 1e6, count_s, fed / 1e6 / count_s,
      static_cast<unsigned long long>(trainer.stats().chunks),
      static_cast<unsigned long long>(trainer.stats().distinct_chunks), PeakRssMb());
  const auto train_start = std::chrono::steady_clock::now();
  auto model = trainer.Train();
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count();
  std::printf("train: %zu merges in %.2f s%s; total %.2f s; peak RSS %.0f MB\n",
              model->merges.size(), train_s, model->stopped_early ? " (stopped early)" : "",
              count_s + train_s, PeakRssMb());
  if (!out.empty()) {
    auto t = model->ToTokenizer("bpe_train_bench");
    absl::Status saved = t.ok() ? winnow::trainer::SaveTokenizer(**t, out) : t.status();
    if (!saved.ok()) {
      std::fprintf(stderr, "%s\n", std::string(saved.message()).c_str());
      return 1;
    }
    std::printf("saved to %s\n", out.c_str());
  }
  return 0;
}
