#include "filters/language_filter.h"

#include <fasttext/fasttext.h>

#include <exception>
#include <filesystem>
#include <istream>
#include <map>
#include <mutex>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace winnow::filters {
namespace {

constexpr std::string_view kLabelPrefix = "__label__";

// Reads a string in place, without the copy an istringstream makes.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view s) {
    char* p = const_cast<char*>(s.data());
    setg(p, p, p + s.size());
  }
};

// One copy of each model per process, shared read-only.
absl::StatusOr<std::shared_ptr<const fasttext::FastText>> SharedModel(const std::string& path) {
  static std::mutex mu;
  static auto* models = new std::map<std::string, std::shared_ptr<const fasttext::FastText>>();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("language model not found: ", path));
  }
  std::string key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) key = path;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = models->find(key); it != models->end()) return it->second;
  auto model = std::make_shared<fasttext::FastText>();
  try {
    model->loadModel(path);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load language model ", path, ": ", e.what()));
  }
  if (model->getArgs().model != fasttext::model_name::sup) {
    return absl::InvalidArgumentError(
        absl::StrCat("language model ", path, " is not a supervised fastText model"));
  }
  models->emplace(key, model);
  return std::shared_ptr<const fasttext::FastText>(std::move(model));
}

}  // namespace

void BindParams(LanguageFilterOptions* options, ParamBinder* binder) {
  binder->String("model", &options->model);
  binder->StringList("languages", &options->languages);
  binder->Double("language_threshold", &options->language_threshold);
  binder->Bool("newlines_to_spaces", &options->newlines_to_spaces);
  binder->Bool("label_only", &options->label_only);
  binder->Double("keep_top_pairs_threshold", &options->keep_top_pairs_threshold);
}

void ApplyFinewebV1Profile(LanguageFilterOptions* options) { options->newlines_to_spaces = false; }

void SetDefaultDataPaths(std::string_view data_dir, LanguageFilterOptions* options) {
  if (!options->model.empty()) return;
  options->model = data_dir.empty() ? std::string("models/lid.176.ftz")
                                    : std::string(data_dir) + "/models/lid.176.ftz";
}

absl::StatusOr<std::unique_ptr<LanguageFilter>> LanguageFilter::Create(
    LanguageFilterOptions options) {
  if (options.model.empty()) {
    return absl::InvalidArgumentError(
        "language.model is not set (expected the path of lid.176.ftz or lid.176.bin)");
  }
  auto model = SharedModel(options.model);
  if (!model.ok()) return model.status();
  return std::make_unique<LanguageFilter>(std::move(options), *std::move(model));
}

LanguageFilter::LanguageFilter(LanguageFilterOptions options,
                               std::shared_ptr<const fasttext::FastText> model)
    : options_(std::move(options)), model_(std::move(model)) {}

std::vector<std::pair<std::string, float>> LanguageFilter::Predict(std::string_view text) const {
  // fastText reads one line: newlines become spaces (or vanish), then the "\n" that ends the line,
  // as the reference's Python binding appends it.
  std::string line;
  line.reserve(text.size() + 1);
  for (char c : text) {
    if (c != '\n') {
      line.push_back(c);
    } else if (options_.newlines_to_spaces) {
      line.push_back(' ');
    }
  }
  line.push_back('\n');
  ViewBuf buf(line);
  std::istream in(&buf);
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  try {
    model_->predictLine(in, predictions, /*k=*/-1, /*threshold=*/0.0);
  } catch (const std::exception&) {
    predictions.clear();
  }
  std::vector<std::pair<std::string, float>> out;
  out.reserve(predictions.size());
  for (auto& [score, label] : predictions) {
    std::string_view name = label;
    if (name.substr(0, kLabelPrefix.size()) == kLabelPrefix)
      name.remove_prefix(kLabelPrefix.size());
    out.emplace_back(std::string(name), score);
  }
  return out;
}

pipeline::Verdict LanguageFilter::Check(pipeline::Document* doc) const {
  const std::vector<std::pair<std::string, float>> predictions = Predict(doc->text);
  // The top label: the first of the highest scores.
  std::string top = "unknown";
  float top_score = 0;
  for (const auto& [label, score] : predictions) {
    if (top == "unknown" || score > top_score) {
      top = label;
      top_score = score;
    }
  }
  auto score_of = [&](const std::string& language) {
    for (const auto& [label, score] : predictions) {
      if (label == language) return score;
    }
    return 0.0f;
  };
  doc->metadata["language"] = top;
  doc->metadata["language_score"] = top_score;
  if (options_.keep_top_pairs_threshold != -1) {
    if (options_.languages.empty()) {
      for (const auto& [label, score] : predictions) {
        if (score > options_.keep_top_pairs_threshold) {
          doc->metadata["top_language_" + label + "_score"] = score;
        }
      }
    } else {
      for (const std::string& language : options_.languages) {
        const float score = score_of(language);
        if (score > options_.keep_top_pairs_threshold) {
          doc->metadata["top_language_" + language + "_score"] = score;
        }
      }
    }
  }
  bool keep = options_.label_only;
  if (!keep && options_.languages.empty()) keep = top_score > options_.language_threshold;
  for (size_t i = 0; !keep && i < options_.languages.size(); ++i) {
    keep = score_of(options_.languages[i]) > options_.language_threshold;
  }
  return keep ? pipeline::Verdict::Keep() : pipeline::Verdict::Drop(top);
}

}  // namespace winnow::filters
