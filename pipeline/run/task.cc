#include "pipeline/run/task.h"

#include <tbb/parallel_pipeline.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "pipeline/io/fetch.h"
#include "pipeline/run/page.h"
#include "pipeline/warc/warc_reader.h"

namespace winnow::pipeline {
namespace {

// Counts the bytes that pass through, for progress and MB/s figures.
class CountingStream final : public ByteStream {
 public:
  CountingStream(std::unique_ptr<ByteStream> inner, std::atomic<uint64_t>* bytes)
      : inner_(std::move(inner)), bytes_(bytes) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    absl::StatusOr<size_t> got = inner_->Read(buf, n);
    if (got.ok()) bytes_->fetch_add(*got, std::memory_order_relaxed);
    return got;
  }
  const std::string& name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteStream> inner_;
  std::atomic<uint64_t>* bytes_;
};

// One record in flight through the task pipeline.
struct Item {
  WarcRecord record;
  Document doc;
  PageOutcome outcome;
  std::string filter;  // the filter that dropped the document, when one did
  std::string filter_reason;
};

}  // namespace

absl::Status ProcessInput(const InputFile& input, const RunConfig& config,
                          const std::vector<std::unique_ptr<Filter>>& filters, int threads,
                          ShardStore::InputWriter* writer, Stats* stats, const ProgressFn& progress,
                          const std::atomic<bool>* cancel) {
  absl::StatusOr<std::unique_ptr<ByteStream>> raw = OpenInput(input.location, config.fetch);
  if (!raw.ok()) return raw.status();
  std::atomic<uint64_t> bytes{0};
  std::unique_ptr<RecordReader> reader =
      RecordReader::Open(std::make_unique<CountingStream>(std::move(*raw), &bytes), config.reader);

  // URL-only filters run before extraction (see page.h); the others on the extracted text.
  std::vector<const Filter*> url_filters, text_filters;
  for (const auto& filter : filters) {
    (filter->UrlOnly() ? url_filters : text_filters).push_back(filter.get());
  }

  absl::Status read_error;
  tbb::parallel_pipeline(
      static_cast<size_t>(threads) * 4,
      tbb::make_filter<void, std::shared_ptr<Item>>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> std::shared_ptr<Item> {
            if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
              read_error = absl::CancelledError("cancelled");
              fc.stop();
              return nullptr;
            }
            auto item = std::make_shared<Item>();
            absl::StatusOr<bool> more = reader->Next(&item->record, stats);
            if (!more.ok()) read_error = more.status();
            if (!more.ok() || !*more) {
              fc.stop();
              return nullptr;
            }
            return item;
          }) &
          tbb::make_filter<std::shared_ptr<Item>, std::shared_ptr<Item>>(
              tbb::filter_mode::parallel,
              [&](std::shared_ptr<Item> item) {
                item->doc.key.snapshot = input.snapshot;
                item->doc.key.input = input.location;
                item->outcome =
                    RecordToDocument(item->record, config.extract, &item->doc, url_filters);
                item->record.block.clear();
                item->record.block.shrink_to_fit();
                if (item->outcome.kind != PageOutcome::Kind::kDocument) return item;
                for (const Filter* filter : text_filters) {
                  Verdict verdict = filter->Check(&item->doc);
                  if (!verdict.kept) {
                    item->filter = std::string(filter->name());
                    item->filter_reason = std::move(verdict.reason);
                    break;
                  }
                }
                return item;
              }) &
          tbb::make_filter<std::shared_ptr<Item>, void>(
              tbb::filter_mode::serial_in_order, [&](std::shared_ptr<Item> item) {
                const PageOutcome& outcome = item->outcome;
                if (outcome.url_checked) {  // the URL-only filters ran, in order, until one dropped
                  for (const Filter* filter : url_filters) {
                    const std::string name(filter->name());
                    if (name == outcome.filter) break;
                    stats->Add(name + "/kept");
                  }
                }
                switch (outcome.kind) {
                  case PageOutcome::Kind::kSkipped:
                    stats->Add("read/skipped/" + outcome.reason);
                    break;
                  case PageOutcome::Kind::kDropped:
                    stats->Add("extract/dropped/" + outcome.reason);
                    break;
                  case PageOutcome::Kind::kFiltered:
                    stats->Add(absl::StrCat(outcome.filter, "/dropped/", outcome.reason));
                    writer->AddDropped(item->doc, outcome.filter, outcome.reason);
                    break;
                  case PageOutcome::Kind::kDocument:
                    stats->Add("extract/kept");
                    stats->Observe("extract/chars", static_cast<double>(item->doc.text.size()));
                    for (const Filter* filter : text_filters) {
                      const std::string name(filter->name());
                      if (name == item->filter) {
                        stats->Add(absl::StrCat(name, "/dropped/", item->filter_reason));
                        break;
                      }
                      stats->Add(name + "/kept");
                    }
                    if (item->filter.empty()) {
                      stats->Add("write/kept");
                      stats->Observe("write/chars", static_cast<double>(item->doc.text.size()));
                      writer->Add(item->doc);
                    } else {
                      writer->AddDropped(item->doc, item->filter, item->filter_reason);
                    }
                    break;
                }
                if (progress) progress(*stats, bytes.load(), false);
              }));
  stats->Add("read/bytes", static_cast<int64_t>(bytes.load()));
  if (progress) progress(*stats, bytes.load(), true);
  return read_error;
}

}  // namespace winnow::pipeline
