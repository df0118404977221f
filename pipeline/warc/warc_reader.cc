#include "pipeline/warc/warc_reader.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/warc/internal/text.h"

namespace winnow::pipeline {
namespace {

constexpr std::string_view kTruncatedGzip = "truncated_gzip";
constexpr size_t kMaxArcLine = 64 << 10;
constexpr size_t kMaxVersionLine = 24;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

enum class Match { kNo, kYes, kNeedMore };

// Does p[0, n) start with a WARC version line: "WARC/" digits ("." digits)* then CRLF or LF?
Match WarcStartAt(const char* p, size_t n) {
  static constexpr std::string_view kMagic = "WARC/";
  if (std::memcmp(p, kMagic.data(), std::min(n, kMagic.size())) != 0) return Match::kNo;
  size_t i = kMagic.size();
  if (n <= i) return Match::kNeedMore;
  if (!IsDigit(p[i])) return Match::kNo;
  while (i < n && i < kMaxVersionLine && (IsDigit(p[i]) || p[i] == '.')) ++i;
  while (i < n && i < kMaxVersionLine && p[i] == '\r') ++i;  // CRLF, LF, or even CRCRLF
  if (i >= kMaxVersionLine) return Match::kNo;
  if (i >= n) return Match::kNeedMore;
  return p[i] == '\n' ? Match::kYes : Match::kNo;
}

std::string_view StripCr(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// When p[i] is '\n': the length of the header up to and including the empty line that follows
// (LF, CRLF or CRCRLF), 0 when the next line is not empty, npos when more bytes are needed.
size_t HeaderEndAfter(const char* p, size_t n, size_t i) {
  size_t j = i + 1;
  while (j < n && j - i <= 4 && p[j] == '\r') ++j;
  if (j >= n) return std::string_view::npos;
  return p[j] == '\n' ? j + 1 : 0;
}

// An ARC header line: v1 "URL IP-address Archive-date Content-type Archive-length", v2 adds
// result code, checksum, location, offset and filename before the length.
struct ArcLine {
  std::string_view url, ip, date, mime, length;
};

bool ParseArcLine(std::string_view line, int arc_version, ArcLine* out) {
  line = StripCr(line);
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') {
      if (static_cast<unsigned char>(line[i]) < 0x20 && line[i] != '\t') return false;
      ++i;
    }
    if (i > start) tokens.push_back(line.substr(start, i - start));
  }
  const size_t n = tokens.size();
  if (n < 5) return false;
  if (arc_version == 2 && n == 10) {
    *out = {tokens[0], tokens[1], tokens[2], tokens[3], tokens[9]};
  } else {  // v1; a URL with spaces in it keeps them
    const char* url_end = tokens[n - 5].data() + tokens[n - 5].size();
    out->url = std::string_view(tokens[0].data(), static_cast<size_t>(url_end - tokens[0].data()));
    out->ip = tokens[n - 4];
    out->date = tokens[n - 3];
    out->mime = tokens[n - 2];
    out->length = tokens[n - 1];
  }
  if (out->url.find(':') == std::string_view::npos) return false;
  if (out->date.size() < 8) return false;
  for (char c : out->date) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// "20140216050221" → "2014-02-16T05:02:21Z" (missing digits default to January 1st, midnight).
std::string ArcDateToIso(std::string_view digits) {
  std::string d(digits.substr(0, 14));
  static constexpr std::string_view kDefault = "00000101000000";
  if (d.size() < 14) d.append(kDefault.substr(d.size()));
  return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T" + d.substr(8, 2) + ":" +
         d.substr(10, 2) + ":" + d.substr(12, 2) + "Z";
}

}  // namespace

std::string_view WarcRecord::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (internal::EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

class RecordReader::Impl {
 public:
  Impl(std::unique_ptr<ByteStream> input, RecordReaderOptions options)
      : gz_(std::move(input), options.gzip),
        options_(options),
        buf_(std::max<size_t>(options.buffer_bytes, 4096)) {}

  const std::string& name() const { return gz_.name(); }

  absl::StatusOr<bool> Next(WarcRecord* record, Stats* stats) {
    stats_ = stats != nullptr ? stats : &scratch_stats_;
    while (true) {
      // Blank lines between records.
      while (true) {
        while (pos_ < end_ && IsSeparator(buf_[pos_])) ++pos_;
        if (pos_ < end_) break;
        absl::StatusOr<bool> more = Fill();
        if (!more.ok()) return more.status();
        if (!*more) break;
      }
      if (pos_ == end_) {
        if (break_pending_) {
          ConsumeBreak();
          continue;
        }
        return false;
      }
      absl::StatusOr<Format> start = ClassifyStart();
      if (!start.ok()) return start.status();
      absl::StatusOr<bool> got = false;
      if (*start == Format::kWarc) {
        got = ReadWarc(record);
      } else if (*start == Format::kArc) {
        got = ReadArc(record);
      } else {
        got = SkipGarbage();
      }
      if (!got.ok()) return got.status();
      if (*got) return true;
    }
  }

 private:
  enum class Format { kUnknown, kWarc, kArc };
  struct Segment {
    uint64_t abs;            // uncompressed offset of the chunk's first byte
    uint64_t member_offset;  // compressed offset of its gzip member
  };

  static bool IsSeparator(char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; }

  size_t avail() const { return end_ - pos_; }
  const char* cur() const { return buf_.data() + pos_; }
  bool blocked() const { return eof_ || break_pending_; }
  // A break that is the end of the input (a gzip member cut short), not corrupt data.
  bool break_is_eof() const { return break_pending_ && break_reason_ == kTruncatedGzip; }

  void Count(std::string_view name) { stats_->Add(name); }
  void Damage(std::string_view reason) { stats_->Add(std::string("read/damaged/").append(reason)); }

  // Notes a chunk that landed at uncompressed offset `abs`.
  void OnChunk(const GzipChunk& chunk, uint64_t abs) {
    if (chunk.size > 0) segments_.push_back({abs, chunk.member_offset});
    if (!chunk.damage.empty()) {
      break_pending_ = true;
      break_reason_ = std::string(chunk.damage);
      Damage(chunk.damage);
    }
    if (chunk.end) eof_ = true;
  }

  // Appends decompressed bytes to the buffer. False when nothing more can come before the pending
  // break or the end.
  absl::StatusOr<bool> Fill() {
    if (blocked()) return false;
    const size_t free = buf_.size() - end_;
    if (pos_ > 0 && (free < buf_.size() / 4 || pos_ == end_)) {
      std::memmove(buf_.data(), cur(), avail());
      base_ += pos_;
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    while (true) {
      absl::StatusOr<GzipChunk> chunk = gz_.Read(buf_.data() + end_, buf_.size() - end_);
      if (!chunk.ok()) return chunk.status();
      OnChunk(*chunk, base_ + end_);
      end_ += chunk->size;
      if (chunk->size > 0) return true;
      if (blocked()) return false;
    }
  }

  void ConsumeBreak() {
    break_pending_ = false;
    suppress_garbage_ = true;  // whatever follows the break until a record is the same damage
  }

  // The length of the line at pos_ (without its '\n'), or nullopt when there is no complete line
  // within `limit` bytes.
  absl::StatusOr<std::optional<size_t>> LineLength(size_t limit) {
    size_t scanned = 0;
    while (true) {
      const size_t n = std::min(avail(), limit);
      if (n > scanned) {
        const void* nl = std::memchr(cur() + scanned, '\n', n - scanned);
        if (nl != nullptr) return static_cast<size_t>(static_cast<const char*>(nl) - cur());
        scanned = n;
      }
      if (scanned >= limit) return std::nullopt;
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) return std::nullopt;
    }
  }

  absl::StatusOr<Format> ClassifyStart() {
    if (format_ != Format::kArc) {
      while (true) {
        const Match m = WarcStartAt(cur(), avail());
        if (m == Match::kYes) {
          format_ = Format::kWarc;
          return Format::kWarc;
        }
        if (m == Match::kNo) break;
        absl::StatusOr<bool> more = Fill();
        if (!more.ok()) return more.status();
        if (!*more) break;
      }
    }
    if (format_ != Format::kWarc) {
      absl::StatusOr<std::optional<size_t>> len = LineLength(kMaxArcLine);
      if (!len.ok()) return len.status();
      ArcLine arc;
      if (len->has_value() && ParseArcLine(std::string_view(cur(), **len), arc_version_, &arc)) {
        format_ = Format::kArc;
        return Format::kArc;
      }
    }
    return Format::kUnknown;
  }

  // Skips bytes that do not start a record, up to the next candidate start. Always advances.
  absl::StatusOr<bool> SkipGarbage() {
    if (!suppress_garbage_) Damage("garbage");
    suppress_garbage_ = true;
    if (format_ != Format::kWarc) {  // ARC or unknown: the next line is the next candidate
      absl::StatusOr<std::optional<size_t>> len = LineLength(options_.max_header_bytes);
      if (!len.ok()) return len.status();
      if (len->has_value()) {
        pos_ += **len + 1;
      } else if (avail() > options_.max_header_bytes) {
        pos_ += options_.max_header_bytes;
      } else {
        pos_ = end_;
      }
      return false;
    }
    ++pos_;
    while (true) {
      static constexpr std::string_view kMagic = "WARC/";
      const char* p = cur();
      const size_t n = avail();
      for (size_t i = 0; i + kMagic.size() <= n;) {
        const void* hit = memmem(p + i, n - i, kMagic.data(), kMagic.size());
        if (hit == nullptr) break;
        i = static_cast<size_t>(static_cast<const char*>(hit) - p);
        const bool line_start = i > 0 ? p[i - 1] == '\n' : pos_ > 0 && buf_[pos_ - 1] == '\n';
        if (line_start) {
          pos_ += i;
          return false;
        }
        ++i;
      }
      // Keep a few bytes: "WARC/" may straddle the buffer end.
      pos_ = end_ - std::min<size_t>(n, kMagic.size());
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) {
        pos_ = end_;
        return false;
      }
    }
  }

  // Copies min(length, max_record_bytes) block bytes into record->block and skips the rest.
  // Returns the bytes consumed, less than `length` when the input ends or breaks first.
  absl::StatusOr<uint64_t> ReadBlock(uint64_t length, std::string* block) {
    const size_t keep = static_cast<size_t>(std::min<uint64_t>(length, options_.max_record_bytes));
    block->resize(keep);
    size_t filled = 0;
    uint64_t consumed = 0;
    while (consumed < length) {
      if (avail() == 0) {
        if (blocked()) break;
        if (keep - filled >= buf_.size() / 4) {  // large: inflate straight into the block
          base_ += end_;
          pos_ = end_ = 0;
          absl::StatusOr<GzipChunk> chunk = gz_.Read(block->data() + filled, keep - filled);
          if (!chunk.ok()) return chunk.status();
          OnChunk(*chunk, base_);
          base_ += chunk->size;
          filled += chunk->size;
          consumed += chunk->size;
          continue;
        }
        absl::StatusOr<bool> more = Fill();
        if (!more.ok()) return more.status();
        if (!*more) break;
      }
      const size_t take = static_cast<size_t>(std::min<uint64_t>(length - consumed, avail()));
      const size_t copy = std::min(take, keep - filled);
      std::memcpy(block->data() + filled, cur(), copy);
      filled += copy;
      pos_ += take;
      consumed += take;
    }
    block->resize(filled);
    return consumed;
  }

  // Puts bytes that were just consumed back in front of pos_.
  void PushBack(std::string_view bytes) {
    const size_t len = bytes.size();
    if (len <= pos_) {
      std::memcpy(buf_.data() + pos_ - len, bytes.data(), len);
      pos_ -= len;
      return;
    }
    const size_t rest = avail();
    if (len + rest > buf_.size()) buf_.resize(len + rest);
    std::memmove(buf_.data() + len, cur(), rest);
    std::memcpy(buf_.data(), bytes.data(), len);
    base_ = base_ + pos_ - len;
    pos_ = 0;
    end_ = len + rest;
  }

  // The offset reported for a record starting at uncompressed offset `abs`.
  uint64_t OffsetAt(uint64_t abs) {
    uint64_t offset = abs;
    if (gz_.is_gzip()) {
      while (segments_.size() > 1 && segments_[1].abs <= abs) segments_.pop_front();
      offset = segments_.empty() ? 0 : segments_.front().member_offset;
    }
    if (have_offset_ && offset <= last_offset_) offset = last_offset_ + 1;
    have_offset_ = true;
    last_offset_ = offset;
    return offset;
  }

  // After a block: is the next thing a record start (or nothing)? Leaves pos_ where it was.
  absl::StatusOr<bool> FollowedByRecordStart() {
    size_t i = 0;
    while (true) {
      while (i < avail() && (cur()[i] == '\r' || cur()[i] == '\n')) ++i;
      if (i > kMaxVersionLine) return false;  // not a record separator any more
      if (i < avail()) {
        Match m = Match::kNo;
        if (format_ == Format::kWarc) {
          m = WarcStartAt(cur() + i, avail() - i);
        } else {
          const void* nl = std::memchr(cur() + i, '\n', std::min(avail() - i, kMaxArcLine));
          ArcLine arc;
          if (nl != nullptr) {
            const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - (cur() + i));
            m = ParseArcLine(std::string_view(cur() + i, len), arc_version_, &arc) ? Match::kYes
                                                                                   : Match::kNo;
          } else if (avail() - i < kMaxArcLine) {
            m = Match::kNeedMore;
          }
        }
        if (m != Match::kNeedMore) return m == Match::kYes;
      }
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) return i >= avail();  // the end (or a break) right after the block is fine
    }
  }

  // Where a WARC record starts inside `block` after a blank line, or npos.
  static size_t FindInnerWarcRecord(std::string_view block) {
    size_t i = 0;
    while ((i = block.find("WARC/", i)) != std::string_view::npos) {
      // An empty line (LF, CRLF, CRCRLF) must end right before "WARC/".
      bool blank_before = i >= 2 && block[i - 1] == '\n';
      if (blank_before) {
        size_t k = i - 1;
        while (k > 0 && i - k <= 4 && block[k - 1] == '\r') --k;
        blank_before = k > 0 && block[k - 1] == '\n';
      }
      if (blank_before && WarcStartAt(block.data() + i, block.size() - i) == Match::kYes) return i;
      ++i;
    }
    return std::string_view::npos;
  }

  // When the Content-Length ran past the next record, cuts the block there and puts the rest back.
  bool RepairOverlongBlock(WarcRecord* record) {
    const size_t k = FindInnerWarcRecord(record->block);
    if (k == std::string_view::npos) return false;
    PushBack(std::string_view(record->block).substr(k));
    size_t cut = k;
    if (cut >= 4 && record->block.compare(cut - 4, 4, "\r\n\r\n") == 0) {
      cut -= 4;
    } else if (cut >= 2 && record->block.compare(cut - 2, 2, "\n\n") == 0) {
      cut -= 2;
    }
    record->block.resize(cut);
    record->truncated = true;
    Count("read/repaired/content_length");
    return true;
  }

  static void Clear(WarcRecord* record) {
    record->version.clear();
    record->type.clear();
    record->headers.clear();
    record->record_id.clear();
    record->target_uri.clear();
    record->date.clear();
    record->block.clear();
    record->offset = 0;
    record->truncated = false;
  }

  // Reads the block of a record whose header was parsed, and decides what to return.
  absl::StatusOr<bool> FinishRecord(uint64_t length, WarcRecord* record) {
    absl::StatusOr<uint64_t> consumed = ReadBlock(length, &record->block);
    if (!consumed.ok()) return consumed.status();
    const bool capped = length > options_.max_record_bytes;
    if (capped) record->truncated = true;
    Count("read/records");
    if (*consumed < length) {
      if (break_pending_ && !break_is_eof()) {  // cut by corrupt data: skip (already counted)
        ConsumeBreak();
        return false;
      }
      if (!capped && format_ == Format::kWarc && RepairOverlongBlock(record)) return true;
      record->truncated = true;
      if (!break_pending_) Damage("truncated_record");
      return true;
    }
    if (!capped) {
      absl::StatusOr<bool> ok = FollowedByRecordStart();
      if (!ok.ok()) return ok.status();
      if (!*ok && format_ == Format::kWarc) RepairOverlongBlock(record);
    }
    suppress_garbage_ = false;
    return true;
  }

  absl::StatusOr<bool> ReadWarc(WarcRecord* record) {
    const uint64_t start = base_ + pos_;
    // The header ends at the first empty line (CRLF or LF-only).
    size_t header_len = 0;
    size_t scan = 0;
    while (true) {
      const char* p = cur();
      const size_t n = avail();
      while (scan < n) {
        const void* nl = std::memchr(p + scan, '\n', n - scan);
        if (nl == nullptr) {
          scan = n;
          break;
        }
        const size_t i = static_cast<size_t>(static_cast<const char*>(nl) - p);
        const size_t end = HeaderEndAfter(p, n, i);
        if (end == std::string_view::npos) {
          scan = i;  // undecided: look again with more bytes
          break;
        }
        header_len = end;
        if (header_len > 0) break;
        scan = i + 1;
      }
      if (header_len > 0) break;
      if (n > options_.max_header_bytes) {
        Count("read/records");
        Damage("bad_header");
        pos_ += 5;
        suppress_garbage_ = true;
        return false;
      }
      absl::StatusOr<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) {  // the header is cut by the end or by damage
        Count("read/records");
        if (!break_pending_) Damage("truncated_record");
        pos_ = end_;
        return false;
      }
    }

    Clear(record);
    const std::string_view header(cur(), header_len);
    size_t line_end = header.find('\n');
    record->version = std::string(StripCr(header.substr(0, line_end)));
    bool have_length = false;
    uint64_t length = 0;
    bool bad_length = false;
    for (size_t at = line_end + 1; at < header_len;) {
      line_end = header.find('\n', at);
      const std::string_view line = StripCr(header.substr(at, line_end - at));
      at = line_end + 1;
      if (line.empty()) break;
      if ((line[0] == ' ' || line[0] == '\t') && !record->headers.empty()) {  // folded line
        record->headers.back().second.append(" ").append(internal::Trim(line));
        continue;
      }
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;  // tolerated: not a field
      record->headers.emplace_back(std::string(internal::Trim(line.substr(0, colon))),
                                   std::string(internal::Trim(line.substr(colon + 1))));
    }
    for (const auto& [key, value] : record->headers) {
      if (!have_length && internal::EqualsIgnoreCase(key, "Content-Length")) {
        have_length = true;
        bad_length = !internal::ParseDecimal(value, &length);
      }
    }
    pos_ += header_len;
    if (!have_length || bad_length) {
      Count("read/records");
      Damage("bad_header");
      suppress_garbage_ = true;
      return false;
    }
    record->type = internal::ToLower(record->Header("WARC-Type"));
    record->record_id = std::string(record->Header("WARC-Record-ID"));
    std::string_view uri = record->Header("WARC-Target-URI");
    if (uri.size() >= 2 && uri.front() == '<' && uri.back() == '>') {
      uri = uri.substr(1, uri.size() - 2);
    }
    record->target_uri = std::string(uri);
    record->date = std::string(record->Header("WARC-Date"));
    for (const auto& [key, value] : record->headers) {
      if (internal::EqualsIgnoreCase(key, "WARC-Truncated")) record->truncated = true;
    }
    record->offset = OffsetAt(start);
    return FinishRecord(length, record);
  }

  absl::StatusOr<bool> ReadArc(WarcRecord* record) {
    const uint64_t start = base_ + pos_;
    absl::StatusOr<std::optional<size_t>> len = LineLength(kMaxArcLine);
    if (!len.ok()) return len.status();
    ArcLine arc;
    if (!len->has_value() || !ParseArcLine(std::string_view(cur(), **len), arc_version_, &arc)) {
      return SkipGarbage();  // unreachable after ClassifyStart, kept for safety
    }
    Clear(record);
    const bool filedesc = arc.url.starts_with("filedesc:");
    record->version = "ARC";
    record->type = filedesc ? "warcinfo" : "response";
    record->target_uri = std::string(arc.url);
    record->date = ArcDateToIso(arc.date);
    record->headers = {{"WARC-Target-URI", record->target_uri},
                       {"WARC-Date", record->date},
                       {"WARC-IP-Address", std::string(arc.ip)},
                       {"Content-Type", std::string(arc.mime)},
                       {"Content-Length", std::string(arc.length)}};
    uint64_t length = 0;
    const bool length_ok = internal::ParseDecimal(arc.length, &length);
    pos_ += **len + 1;
    if (!length_ok) {
      Count("read/records");
      Damage("bad_header");
      suppress_garbage_ = true;
      return false;
    }
    record->offset = OffsetAt(start);
    absl::StatusOr<bool> got = FinishRecord(length, record);
    if (got.ok() && *got && filedesc && !record->block.empty() && IsDigit(record->block[0])) {
      arc_version_ = record->block[0] - '0';  // the version block starts "1 0 …" or "2 0 …"
    }
    return got;
  }

  GzipReader gz_;
  RecordReaderOptions options_;
  Stats* stats_ = nullptr;
  Stats scratch_stats_;  // where counts go when the caller passes no Stats

  std::vector<char> buf_;  // uncompressed bytes; buf_[0] is at uncompressed offset base_
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t base_ = 0;
  bool eof_ = false;
  bool break_pending_ = false;  // data was lost right after buf_[end_ - 1]
  std::string break_reason_;
  bool suppress_garbage_ = false;  // garbage here is part of a damage already counted

  std::deque<Segment> segments_;
  bool have_offset_ = false;
  uint64_t last_offset_ = 0;

  Format format_ = Format::kUnknown;
  int arc_version_ = 1;
};

RecordReader::RecordReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RecordReader::~RecordReader() = default;

std::unique_ptr<RecordReader> RecordReader::Open(std::unique_ptr<ByteStream> input,
                                                 RecordReaderOptions options) {
  return std::unique_ptr<RecordReader>(
      new RecordReader(std::make_unique<Impl>(std::move(input), options)));
}

absl::StatusOr<bool> RecordReader::Next(WarcRecord* record, Stats* stats) {
  return impl_->Next(record, stats);
}

const std::string& RecordReader::name() const { return impl_->name(); }

}  // namespace winnow::pipeline
