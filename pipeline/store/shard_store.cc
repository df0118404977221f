#include "pipeline/store/shard_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <queue>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/atomic_file.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace winnow::pipeline {
namespace {

namespace fs = std::filesystem;

// Column families of every shard, in this order; "default" exists too (RocksDB needs it) but
// holds nothing.
enum Column {
  kDocuments,
  kDropped,
  kStats,
  kSignatures,
  kLshBands,
  kDuplicates,
  kMeta,
  kNumColumns
};
constexpr const char* kColumnNames[kNumColumns] = {"documents", "dropped",    "stats", "signatures",
                                                   "lsh_bands", "duplicates", "meta"};

constexpr char kManifestName[] = "MANIFEST";
constexpr char kManifestFormat[] = "winnow-shards";
constexpr int kManifestVersion = 1;
constexpr int kMaxShards = 9999;  // shard dirs are named with four digits

// Value format version, the first byte of every stored document value.
constexpr char kValueVersion = 1;

// Debian's Abseil has its own string_view; StrCat takes std::string.
std::string Escape(std::string_view s) {
  return absl::CEscape(absl::string_view(s.data(), s.size()));
}

absl::Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(std::string(what), ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsBusy() || status.IsTryAgain()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

// ---- value encoding: version byte, length-prefixed strings, metadata as MessagePack ----------

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetString(std::string_view* in, std::string_view* s) {
  uint64_t size = 0;
  if (!GetVarint(in, &size) || size > in->size()) return false;
  *s = in->substr(0, size);
  in->remove_prefix(size);
  return true;
}

// Appends the fields of `doc` that its key does not carry.
absl::Status AppendDocumentFields(const Document& doc, std::string* out) {
  PutString(out, doc.id);
  PutString(out, doc.url);
  PutString(out, doc.date);
  PutString(out, doc.text);
  try {
    nlohmann::json::to_msgpack(doc.metadata, *out);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata of document ", doc.id, " cannot be stored: ", e.what()));
  }
  return absl::OkStatus();
}

bool ParseDocumentFields(std::string_view in, Document* doc) {
  std::string_view id, url, date, text;
  if (!GetString(&in, &id) || !GetString(&in, &url) || !GetString(&in, &date) ||
      !GetString(&in, &text)) {
    return false;
  }
  doc->id = std::string(id);
  doc->url = std::string(url);
  doc->date = std::string(date);
  doc->text = std::string(text);
  try {
    doc->metadata = nlohmann::json::from_msgpack(in.begin(), in.end());
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

// The text of a documents-column value, without decoding the other fields or the metadata.
bool ParseDocumentText(std::string_view value, std::string_view* text) {
  if (value.empty() || value.front() != kValueVersion) return false;
  value.remove_prefix(1);
  std::string_view skipped;  // id, URL, date
  return GetString(&value, &skipped) && GetString(&value, &skipped) &&
         GetString(&value, &skipped) && GetString(&value, text);
}

// documents: key DocumentKey::Encode(), value kValueVersion + fields.
// dropped:   key DocumentKey::Encode(), value kValueVersion + filter + reason + fields.
absl::Status DecodeDocument(std::string_view key, std::string_view value, Document* doc,
                            std::string_view* filter, std::string_view* reason) {
  if (!DocumentKey::Decode(key, &doc->key)) {
    return absl::DataLossError(
        absl::StrCat("undecodable document key \"", Escape(key), "\" in the shard store"));
  }
  bool ok = !value.empty() && value.front() == kValueVersion;
  if (ok) value.remove_prefix(1);
  if (ok && filter != nullptr) ok = GetString(&value, filter) && GetString(&value, reason);
  if (!ok || !ParseDocumentFields(value, doc)) {
    return absl::DataLossError(absl::StrCat("undecodable value for document key \"", Escape(key),
                                            "\" in the shard store"));
  }
  return absl::OkStatus();
}

// "snapshot\0input\0": the prefix of every key one input owns, in every column family.
std::string InputPrefix(const std::string& snapshot, const std::string& input) {
  std::string key = DocumentKey{snapshot, input, 0}.Encode();
  key.resize(key.size() - 8);
  return key;
}

// The first key after every key that starts with `prefix` (whose last byte is '\0').
std::string PrefixEnd(std::string prefix) {
  prefix.back() = '\x01';
  return prefix;
}

// Splits "snapshot\0input\0" back; false when it is not one.
bool SplitInputPrefix(std::string_view key, std::string* snapshot, std::string* input) {
  if (key.empty() || key.back() != '\0') return false;
  key.remove_suffix(1);
  const size_t sep = key.find('\0');
  if (sep == std::string_view::npos) return false;
  *snapshot = std::string(key.substr(0, sep));
  *input = std::string(key.substr(sep + 1));
  return input->find('\0') == std::string::npos;
}

// FNV-1a, 64 bit: stable across platforms, compilers and releases (unlike std::hash).
uint64_t Fnv1a64(std::string_view a, std::string_view b) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (char c : a) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : b) mix(static_cast<unsigned char>(c));
  return h;
}

std::string DumpJson(const nlohmann::json& json, int indent = -1) {
  return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  std::string content;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) content.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return absl::InternalError(absl::StrCat("cannot read ", path));
  return content;
}

// The shard count a MANIFEST records, or an error naming the file.
absl::StatusOr<int> ReadManifest(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  const nlohmann::json json = nlohmann::json::parse(*content, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&path](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat(path, " is not a winnow shard manifest: ", std::string(why)));
  };
  if (json.is_discarded() || !json.is_object()) return bad("not a JSON object");
  if (json.value("format", std::string()) != kManifestFormat) {
    return bad(absl::StrCat("\"format\" is not \"", kManifestFormat, "\""));
  }
  const auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kManifestVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " has a layout version this build does not read (it reads ", kManifestVersion, ")"));
  }
  const auto shards = json.find("num_shards");
  if (shards == json.end() || !shards->is_number_integer() || shards->get<int64_t>() < 1 ||
      shards->get<int64_t>() > kMaxShards) {
    return bad("\"num_shards\" is missing or out of range");
  }
  return static_cast<int>(shards->get<int64_t>());
}

// The names in a directory; std::filesystem without exceptions.
absl::StatusOr<std::vector<std::string>> ListDir(const fs::path& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec)
    return absl::InternalError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  return names;
}

bool IsShardDirName(const std::string& name) {
  return name.size() == 4 &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string ShardDirName(int shard) { return absl::StrFormat("%04d", shard); }

// Entries a data dir may hold before it has shards (the run writes its config first).
bool IsKnownDataDirEntry(const std::string& name) {
  return name == "config.yaml" || name == "stats.json" || name == "runs.jsonl" ||
         name.rfind("coordinator", 0) == 0;
}

rocksdb::ColumnFamilyOptions MakeColumnOptions(const StoreOptions& options) {
  rocksdb::ColumnFamilyOptions cf;
  cf.compression = rocksdb::kNoCompression;
  cf.bottommost_compression = rocksdb::kDisableCompressionOption;
  if (options.compress) {
    const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
    const auto has = [&supported](rocksdb::CompressionType type) {
      return std::find(supported.begin(), supported.end(), type) != supported.end();
    };
    if (has(rocksdb::kLZ4Compression)) {
      cf.compression = rocksdb::kLZ4Compression;
    } else if (has(rocksdb::kSnappyCompression)) {
      cf.compression = rocksdb::kSnappyCompression;
    }
    if (has(rocksdb::kZSTD)) cf.bottommost_compression = rocksdb::kZSTD;
  }
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 16 * 1024;  // documents are large; bigger blocks compress better
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

class InputWriterImpl final : public ShardStore::InputWriter {
 public:
  InputWriterImpl(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* const* columns,
                  std::string snapshot, std::string input, bool replace,
                  const StoreOptions& options, std::function<absl::Status()> before_commit)
      : db_(db),
        before_commit_(std::move(before_commit)),
        snapshot_(std::move(snapshot)),
        input_(std::move(input)),
        max_dropped_(options.max_dropped_examples_per_reason),
        sync_(options.sync_commits) {
    std::copy(columns, columns + kNumColumns, columns_);
    if (options.read_only) {
      status_ = absl::FailedPreconditionError("the shard store was opened read-only");
    } else if (snapshot_.find('\0') != std::string::npos ||
               input_.find('\0') != std::string::npos) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("snapshot and input names cannot contain NUL: \"", absl::CEscape(snapshot_),
                       "\", \"", absl::CEscape(input_), "\""));
    }
    if (!status_.ok()) return;
    prefix_ = InputPrefix(snapshot_, input_);
    // Deletions first: in one batch, later entries win, so the new data survives them.
    if (replace) {
      const std::string end = PrefixEnd(prefix_);
      for (Column c : {kDocuments, kDropped, kStats, kSignatures, kDuplicates}) {
        if (columns_[c] != nullptr) Check(batch_.DeleteRange(columns_[c], prefix_, end));
      }
    }
  }

  void Add(const Document& doc) override {
    std::string value(1, kValueVersion);
    if (!CheckKey(doc) || !Check(AppendDocumentFields(doc, &value))) return;
    Check(batch_.Put(columns_[kDocuments], doc.key.Encode(), value));
  }

  void AddDropped(const Document& doc, std::string_view filter, std::string_view reason) override {
    if (max_dropped_ >= 0) {
      int& kept = dropped_per_reason_[std::make_pair(std::string(filter), std::string(reason))];
      if (kept >= max_dropped_) return;
      ++kept;
    }
    std::string value(1, kValueVersion);
    PutString(&value, filter);
    PutString(&value, reason);
    if (!CheckKey(doc) || !Check(AppendDocumentFields(doc, &value))) return;
    Check(batch_.Put(columns_[kDropped], doc.key.Encode(), value));
  }

  absl::Status Commit(const Stats& stats) override {
    if (committed_) return absl::FailedPreconditionError("InputWriter::Commit called twice");
    if (!status_.ok()) return status_;
    if (!Check(batch_.Put(columns_[kStats], prefix_, DumpJson(stats.ToJson())))) return status_;
    if (!Check(before_commit_())) return status_;
    rocksdb::WriteOptions write_options;
    write_options.sync = sync_;
    absl::Status status = FromRocks(db_->Write(write_options, &batch_),
                                    absl::StrCat("committing ", snapshot_, " ", input_));
    if (!status.ok()) return status;
    committed_ = true;
    batch_.Clear();
    return absl::OkStatus();
  }

 private:
  bool Check(const rocksdb::Status& status) {
    return Check(FromRocks(status, absl::StrCat("buffering ", snapshot_, " ", input_)));
  }
  bool Check(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
    return status_.ok();
  }
  bool CheckKey(const Document& doc) {
    if (!status_.ok()) return false;
    if (doc.key.snapshot != snapshot_ || doc.key.input != input_) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("document ", doc.id, " belongs to (", doc.key.snapshot, ", ", doc.key.input,
                       "), not to the writer's (", snapshot_, ", ", input_, ")"));
    }
    return status_.ok();
  }

  rocksdb::DB* db_;
  std::function<absl::Status()> before_commit_;
  rocksdb::ColumnFamilyHandle* columns_[kNumColumns] = {};
  std::string snapshot_, input_, prefix_;
  int max_dropped_;
  bool sync_;
  absl::Status status_;  // the first error; fails the Commit
  bool committed_ = false;
  rocksdb::WriteBatch batch_;
  std::map<std::pair<std::string, std::string>, int> dropped_per_reason_;
};

}  // namespace

struct ShardStore::Shard {
  std::string path;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;       // every family opened, for closing
  rocksdb::ColumnFamilyHandle* columns[kNumColumns] = {};  // null: absent (read-only, old dir)

  ~Shard() {
    if (db == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
    db->Close().PermitUncheckedError();
    delete db;
  }

  absl::Status Open(const StoreOptions& options, bool create) {
    rocksdb::DBOptions db_options;
    db_options.create_if_missing = create;
    db_options.create_missing_column_families = !options.read_only;
    db_options.keep_log_file_num = 4;
    const rocksdb::ColumnFamilyOptions cf_options = MakeColumnOptions(options);

    std::vector<std::string> names;
    if (!create) {
      absl::Status status = FromRocks(rocksdb::DB::ListColumnFamilies(db_options, path, &names),
                                      absl::StrCat("opening shard ", path));
      if (!status.ok()) return status;
    }
    if (!options.read_only) {
      for (const char* name : kColumnNames) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
    if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName) == names.end()) {
      names.push_back(rocksdb::kDefaultColumnFamilyName);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) descriptors.emplace_back(name, cf_options);
    const rocksdb::Status status =
        options.read_only
            ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &db)
            : rocksdb::DB::Open(db_options, path, descriptors, &handles, &db);
    if (!status.ok()) return FromRocks(status, absl::StrCat("opening shard ", path));
    for (size_t i = 0; i < names.size(); ++i) {
      for (int c = 0; c < kNumColumns; ++c) {
        if (names[i] == kColumnNames[c]) columns[c] = handles[i];
      }
    }
    return absl::OkStatus();
  }
};

ShardStore::ShardStore(std::string data_dir, StoreOptions options)
    : data_dir_(std::move(data_dir)), options_(options) {}

ShardStore::~ShardStore() = default;

absl::StatusOr<std::unique_ptr<ShardStore>> ShardStore::Open(const std::string& data_dir,
                                                             const StoreOptions& options) {
  std::error_code ec;
  const fs::path dir(data_dir);
  const fs::path shards_dir = dir / "shards";
  const fs::path manifest = shards_dir / kManifestName;
  const bool may_create = options.create_if_missing && !options.read_only;

  const fs::file_status dir_status = fs::status(dir, ec);
  if (fs::exists(dir_status) && !fs::is_directory(dir_status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data dir ", data_dir, " exists and is not a directory"));
  }
  bool create = false;
  if (!fs::exists(dir_status)) {
    if (!may_create)
      return absl::NotFoundError(absl::StrCat("data dir ", data_dir, " does not exist"));
    create = true;
  } else if (!fs::exists(shards_dir, ec)) {
    if (!may_create) {
      return absl::NotFoundError(
          absl::StrCat(data_dir, " is not a winnow data dir: it has no shards/"));
    }
    absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (!IsKnownDataDirEntry(name)) {
        return absl::FailedPreconditionError(
            absl::StrCat(data_dir, " is not a winnow data dir (it has no shards/ but holds \"",
                         name, "\"); pass an empty or new directory"));
      }
    }
    create = true;
  } else if (!fs::is_directory(shards_dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(shards_dir.string(), " is not a directory: not a winnow data dir"));
  } else if (!fs::exists(manifest, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        data_dir, " is not a winnow data dir: ", manifest.string(),
        " is missing (an interrupted creation leaves none; remove shards/ to start over)"));
  }

  int num_shards = options.num_shards;
  if (create) {
    if (num_shards < 1 || num_shards > kMaxShards) {
      return absl::InvalidArgumentError(
          absl::StrCat("num_shards must be in [1, ", kMaxShards, "], not ", num_shards));
    }
    fs::create_directories(shards_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create ", shards_dir.string(), ": ", ec.message()));
    }
  } else {
    absl::StatusOr<int> recorded = ReadManifest(manifest.string());
    if (!recorded.ok()) return recorded.status();
    num_shards = *recorded;
    absl::StatusOr<std::vector<std::string>> names = ListDir(shards_dir);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (IsShardDirName(name) && std::stoi(name) >= num_shards) {
        return absl::FailedPreconditionError(
            absl::StrCat((shards_dir / name).string(), " lies beyond the ", num_shards,
                         " shards that ", manifest.string(), " records: mismatching layout"));
      }
    }
  }

  auto store = std::unique_ptr<ShardStore>(new ShardStore(data_dir, options));
  for (int i = 0; i < num_shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->path = (shards_dir / ShardDirName(i)).string();
    if (!create && !fs::is_directory(shard->path, ec)) {
      return absl::DataLossError(absl::StrCat("shard ", shard->path, " is missing (",
                                              manifest.string(), " records ", num_shards,
                                              " shards)"));
    }
    if (absl::Status status = shard->Open(options, create); !status.ok()) return status;
    store->shards_.push_back(std::move(shard));
  }
  if (create) {
    const nlohmann::json json = {
        {"format", kManifestFormat}, {"version", kManifestVersion}, {"num_shards", num_shards}};
    if (absl::Status status = WriteFileAtomically(manifest.string(), json.dump(2) + "\n");
        !status.ok()) {
      return status;
    }
  }
  return store;
}

int ShardStore::ShardOf(std::string_view snapshot, std::string_view input) const {
  return static_cast<int>(Fnv1a64(snapshot, input) % shards_.size());
}

std::unique_ptr<ShardStore::InputWriter> ShardStore::StartInput(const std::string& snapshot,
                                                                const std::string& input) {
  Shard& shard = *shards_[ShardOf(snapshot, input)];
  // Range deletions only when there is something to replace: tombstones cost reads until
  // compaction drops them. An error reading counts as "maybe": replace.
  const absl::StatusOr<bool> committed = HasInput(snapshot, input);
  const bool replace = !committed.ok() || *committed;
  // A commit changes what the dedup state of the input's snapshot (and of "all") describes:
  // that state is dropped before the commit, so a crash in between only redoes a dedup.
  auto invalidate = [this, snapshot]() -> absl::Status {
    for (const std::string& name : {"dedup/" + snapshot, std::string("dedup/*")}) {
      if (absl::Status status = PutMeta(name, std::nullopt); !status.ok()) return status;
    }
    return absl::OkStatus();
  };
  return std::make_unique<InputWriterImpl>(shard.db, shard.columns, snapshot, input, replace,
                                           options_, std::move(invalidate));
}

absl::StatusOr<bool> ShardStore::HasInput(const std::string& snapshot, const std::string& input) {
  Shard& shard = *shards_[ShardOf(snapshot, input)];
  if (shard.columns[kStats] == nullptr) return false;
  std::string value;
  const rocksdb::Status status = shard.db->Get(rocksdb::ReadOptions(), shard.columns[kStats],
                                               InputPrefix(snapshot, input), &value);
  if (status.IsNotFound()) return false;
  if (!status.ok()) return FromRocks(status, absl::StrCat("reading ", shard.path));
  return true;
}

absl::Status ShardStore::MergeColumn(
    int column, const std::function<absl::Status(int shard, std::string_view key,
                                                 std::string_view value, bool* more)>& fn) {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a full scan would only evict what point reads need
  read_options.readahead_size = 2 << 20;
  std::vector<std::unique_ptr<rocksdb::Iterator>> iterators;
  std::vector<const Shard*> owners;
  std::vector<int> owner_index;
  for (size_t s = 0; s < shards_.size(); ++s) {
    const auto& shard = shards_[s];
    if (shard->columns[column] == nullptr) continue;
    iterators.emplace_back(shard->db->NewIterator(read_options, shard->columns[column]));
    owners.push_back(shard.get());
    owner_index.push_back(static_cast<int>(s));
  }
  // A min-heap of iterator indices by current key; every shard's keys are sorted already.
  const auto after = [&iterators](size_t a, size_t b) {
    return iterators[a]->key().compare(iterators[b]->key()) > 0;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(after)> heap(after);
  const auto advance = [&](size_t i, bool first) -> absl::Status {
    rocksdb::Iterator& it = *iterators[i];
    if (first) {
      it.SeekToFirst();
    } else {
      it.Next();
    }
    if (it.Valid()) {
      heap.push(i);
      return absl::OkStatus();
    }
    return FromRocks(it.status(), absl::StrCat("reading ", owners[i]->path));
  };
  for (size_t i = 0; i < iterators.size(); ++i) {
    if (absl::Status status = advance(i, true); !status.ok()) return status;
  }
  while (!heap.empty()) {
    const size_t i = heap.top();
    heap.pop();
    bool more = true;
    const rocksdb::Iterator& it = *iterators[i];
    if (absl::Status status = fn(owner_index[i], std::string_view(it.key().data(), it.key().size()),
                                 std::string_view(it.value().data(), it.value().size()), &more);
        !status.ok()) {
      return status;
    }
    if (!more) return absl::OkStatus();
    if (absl::Status status = advance(i, false); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status ShardStore::ForEachDocument(const std::function<bool(const Document&)>& fn,
                                         DocumentSet which) {
  return MergeColumn(kDocuments,
                     [&](int shard, std::string_view key, std::string_view value, bool* more) {
                       absl::StatusOr<std::optional<DuplicateMark>> mark = GetDuplicate(shard, key);
                       if (!mark.ok()) return mark.status();
                       if (mark->has_value() && which == DocumentSet::kKept)
                         return absl::OkStatus();
                       Document doc;
                       absl::Status status = DecodeDocument(key, value, &doc, nullptr, nullptr);
                       if (!status.ok()) return status;
                       if (mark->has_value()) {
                         nlohmann::json& of = doc.metadata["duplicate_of"];
                         DocumentKey kept;
                         if (DocumentKey::Decode((*mark)->kept_key, &kept)) {
                           of = {{"file_path", kept.input}, {"offset", kept.offset}};
                           if (!kept.snapshot.empty()) of["dump"] = kept.snapshot;
                         }
                         doc.metadata["duplicate_kind"] = (*mark)->kind;
                       }
                       *more = fn(doc);
                       return absl::OkStatus();
                     });
}

absl::Status ShardStore::ScanTexts(
    std::string_view key_prefix,
    const std::function<bool(std::string_view key, std::string_view text)>& fn) {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  read_options.readahead_size = 2 << 20;
  const std::string prefix(key_prefix);
  for (const auto& shard : shards_) {
    if (shard->columns[kDocuments] == nullptr) continue;
    std::unique_ptr<rocksdb::Iterator> it(
        shard->db->NewIterator(read_options, shard->columns[kDocuments]));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      std::string_view text;
      if (!ParseDocumentText(std::string_view(it->value().data(), it->value().size()), &text)) {
        return absl::DataLossError(absl::StrCat("undecodable value for document key \"",
                                                Escape(key), "\" in the shard store"));
      }
      if (!fn(key, text)) return absl::OkStatus();
    }
    if (absl::Status status = FromRocks(it->status(), absl::StrCat("reading ", shard->path));
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

// duplicates: key DocumentKey::Encode() of the duplicate, value kValueVersion + kind + kept key.
absl::StatusOr<std::optional<ShardStore::DuplicateMark>> ShardStore::GetDuplicate(
    int shard_index, std::string_view doc_key) {
  const Shard& shard = *shards_[shard_index];
  if (shard.columns[kDuplicates] == nullptr) return std::optional<DuplicateMark>();
  std::string value;
  const rocksdb::Status status =
      shard.db->Get(rocksdb::ReadOptions(), shard.columns[kDuplicates],
                    rocksdb::Slice(doc_key.data(), doc_key.size()), &value);
  if (status.IsNotFound()) return std::optional<DuplicateMark>();
  if (!status.ok()) return FromRocks(status, absl::StrCat("reading ", shard.path));
  std::string_view in(value);
  std::string_view kind, kept;
  if (in.empty() || in.front() != kValueVersion) {
    return absl::DataLossError(
        absl::StrCat("undecodable duplicate mark for \"", Escape(doc_key), "\""));
  }
  in.remove_prefix(1);
  if (!GetString(&in, &kind) || !GetString(&in, &kept)) {
    return absl::DataLossError(
        absl::StrCat("undecodable duplicate mark for \"", Escape(doc_key), "\""));
  }
  return std::optional<DuplicateMark>(DuplicateMark{std::string(kind), std::string(kept)});
}

absl::StatusOr<std::optional<ShardStore::DuplicateMark>> ShardStore::DuplicateOf(
    const DocumentKey& key) {
  return GetDuplicate(ShardOf(key.snapshot, key.input), key.Encode());
}

absl::Status ShardStore::ClearDuplicates(std::string_view key_prefix) {
  if (options_.read_only) return absl::FailedPreconditionError("the shard store is read-only");
  const std::string begin(key_prefix);
  // Keys are "snapshot\0input\0offset" with printable snapshot names: 0xff… ends them all.
  const std::string end = begin.empty() ? std::string(8, '\xff') : PrefixEnd(begin);
  for (const auto& shard : shards_) {
    if (shard->columns[kDuplicates] == nullptr) continue;
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_commits;
    if (absl::Status status = FromRocks(
            shard->db->DeleteRange(write_options, shard->columns[kDuplicates], begin, end),
            absl::StrCat("clearing duplicate marks in ", shard->path));
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status ShardStore::PutDuplicates(
    const std::vector<std::pair<std::string, DuplicateMark>>& marks) {
  if (options_.read_only) return absl::FailedPreconditionError("the shard store is read-only");
  std::vector<rocksdb::WriteBatch> batches(shards_.size());
  for (const auto& [doc_key, mark] : marks) {
    DocumentKey key;
    if (!DocumentKey::Decode(doc_key, &key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate mark for an undecodable key \"", Escape(doc_key), "\""));
    }
    const int shard = ShardOf(key.snapshot, key.input);
    std::string value(1, kValueVersion);
    PutString(&value, mark.kind);
    PutString(&value, mark.kept_key);
    if (shards_[shard]->columns[kDuplicates] == nullptr) {
      return absl::FailedPreconditionError("the shard store has no duplicates column");
    }
    if (absl::Status status =
            FromRocks(batches[shard].Put(shards_[shard]->columns[kDuplicates], doc_key, value),
                      "buffering duplicate marks");
        !status.ok()) {
      return status;
    }
  }
  for (size_t s = 0; s < shards_.size(); ++s) {
    if (batches[s].Count() == 0) continue;
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_commits;
    if (absl::Status status =
            FromRocks(shards_[s]->db->Write(write_options, &batches[s]),
                      absl::StrCat("writing duplicate marks to ", shards_[s]->path));
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ShardStore::CountDuplicates(std::string_view key_prefix) {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  const std::string prefix(key_prefix);
  uint64_t count = 0;
  for (const auto& shard : shards_) {
    if (shard->columns[kDuplicates] == nullptr) continue;
    std::unique_ptr<rocksdb::Iterator> it(
        shard->db->NewIterator(read_options, shard->columns[kDuplicates]));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++count;
    if (absl::Status status = FromRocks(it->status(), absl::StrCat("reading ", shard->path));
        !status.ok()) {
      return status;
    }
  }
  return count;
}

absl::StatusOr<std::optional<std::string>> ShardStore::GetMeta(std::string_view name) {
  const Shard& shard = *shards_[0];
  if (shard.columns[kMeta] == nullptr) return std::optional<std::string>();
  std::string value;
  const rocksdb::Status status = shard.db->Get(rocksdb::ReadOptions(), shard.columns[kMeta],
                                               rocksdb::Slice(name.data(), name.size()), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return FromRocks(status, absl::StrCat("reading ", shard.path));
  return std::optional<std::string>(std::move(value));
}

absl::Status ShardStore::ForEachMeta(
    std::string_view name_prefix,
    const std::function<bool(std::string_view name, std::string_view value)>& fn) {
  const Shard& shard = *shards_[0];
  if (shard.columns[kMeta] == nullptr) return absl::OkStatus();
  std::unique_ptr<rocksdb::Iterator> it(
      shard.db->NewIterator(rocksdb::ReadOptions(), shard.columns[kMeta]));
  const std::string prefix(name_prefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), absl::StrCat("reading ", shard.path));
}

absl::Status ShardStore::PutMeta(std::string_view name, std::optional<std::string_view> value) {
  if (options_.read_only) return absl::FailedPreconditionError("the shard store is read-only");
  const Shard& shard = *shards_[0];
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_commits;
  const rocksdb::Slice key(name.data(), name.size());
  const rocksdb::Status status = value.has_value()
                                     ? shard.db->Put(write_options, shard.columns[kMeta], key,
                                                     rocksdb::Slice(value->data(), value->size()))
                                     : shard.db->Delete(write_options, shard.columns[kMeta], key);
  return FromRocks(status, absl::StrCat("writing ", shard.path));
}

absl::Status ShardStore::ForEachDropped(
    const std::function<bool(const Document&, std::string_view filter, std::string_view reason)>&
        fn) {
  return MergeColumn(kDropped,
                     [&fn](int, std::string_view key, std::string_view value, bool* more) {
                       Document doc;
                       std::string_view filter, reason;
                       absl::Status status = DecodeDocument(key, value, &doc, &filter, &reason);
                       if (status.ok()) *more = fn(doc, filter, reason);
                       return status;
                     });
}

absl::StatusOr<std::map<std::string, Stats>> ShardStore::InputStats() {
  std::map<std::string, Stats> result;
  absl::Status status =
      MergeColumn(kStats, [&result](int, std::string_view key, std::string_view value, bool*) {
        std::string snapshot, input;
        const nlohmann::json json = nlohmann::json::parse(value, nullptr, false);
        if (!SplitInputPrefix(key, &snapshot, &input) || json.is_discarded()) {
          return absl::DataLossError(absl::StrCat("undecodable stats entry \"", Escape(key), "\""));
        }
        try {
          result[absl::StrCat(snapshot, "\t", input)] = Stats::FromJson(json);
        } catch (const nlohmann::json::exception& e) {
          return absl::DataLossError(
              absl::StrCat("undecodable stats entry \"", Escape(key), "\": ", e.what()));
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<Stats> ShardStore::TotalStats() {
  absl::StatusOr<std::map<std::string, Stats>> inputs = InputStats();
  if (!inputs.ok()) return inputs.status();
  Stats total;
  for (const auto& [name, stats] : *inputs) total.Merge(stats);
  return total;
}

absl::StatusOr<uint64_t> ShardStore::CountDocuments() {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  uint64_t count = 0;
  for (const auto& shard : shards_) {
    if (shard->columns[kDocuments] == nullptr) continue;
    std::unique_ptr<rocksdb::Iterator> it(
        shard->db->NewIterator(read_options, shard->columns[kDocuments]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    if (absl::Status status = FromRocks(it->status(), absl::StrCat("reading ", shard->path));
        !status.ok()) {
      return status;
    }
  }
  return count;
}

absl::Status ShardStore::WriteStatsJson() {
  absl::StatusOr<std::map<std::string, Stats>> inputs = InputStats();
  if (!inputs.ok()) return inputs.status();
  Stats total;
  for (const auto& [name, stats] : *inputs) total.Merge(stats);
  nlohmann::json json = total.ToJson();
  json["inputs"] = inputs->size();
  json["num_shards"] = shards_.size();
  nlohmann::json dedup = nlohmann::json::object();
  absl::Status status = ForEachMeta("dedup/", [&](std::string_view name, std::string_view value) {
    const nlohmann::json state = nlohmann::json::parse(value, nullptr, false);
    if (state.is_object() && state.contains("report")) {
      dedup[std::string(name.substr(6))] = state["report"];
    }
    return true;
  });
  if (!status.ok()) return status;
  if (!dedup.empty()) json["dedup"] = dedup;
  return WriteFileAtomically((fs::path(data_dir_) / "stats.json").string(),
                             DumpJson(json, 2) + "\n");
}

}  // namespace winnow::pipeline
