#include "pipeline/warc/gzip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/warc/internal/inflater.h"

#ifdef WINNOW_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace winnow::pipeline {
namespace internal {
namespace {

constexpr uint32_t kMaxChunk = std::numeric_limits<uint32_t>::max() / 2;

// zlib: raw inflate, then the 8-byte gzip trailer checked by hand.
class ZlibInflater final : public Inflater {
 public:
  ZlibInflater() {
    std::memset(&zs_, 0, sizeof(zs_));
    ok_ = inflateInit2(&zs_, -15) == Z_OK;
  }
  ~ZlibInflater() override {
    if (ok_) inflateEnd(&zs_);
  }

  void Reset() override {
    if (ok_) inflateReset(&zs_);
    crc_ = crc32(0, nullptr, 0);
    size_ = 0;
    in_trailer_ = false;
    trailer_len_ = 0;
  }

  InflateResult Inflate(const uint8_t* in, size_t in_len, size_t* consumed, uint8_t* out,
                        size_t out_len, size_t* produced) override {
    *consumed = 0;
    *produced = 0;
    if (!ok_) return InflateResult::kError;
    if (!in_trailer_) {
      zs_.next_in = const_cast<Bytef*>(in);
      zs_.avail_in = static_cast<uInt>(std::min<size_t>(in_len, kMaxChunk));
      zs_.next_out = out;
      zs_.avail_out = static_cast<uInt>(std::min<size_t>(out_len, kMaxChunk));
      const uInt avail_in = zs_.avail_in;
      const uInt avail_out = zs_.avail_out;
      const int ret = inflate(&zs_, Z_NO_FLUSH);
      *consumed = avail_in - zs_.avail_in;
      *produced = avail_out - zs_.avail_out;
      crc_ = crc32(crc_, out, static_cast<uInt>(*produced));
      size_ += static_cast<uint32_t>(*produced);
      if (ret == Z_STREAM_END) {
        in_trailer_ = true;
      } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
        return InflateResult::kError;
      } else {
        return InflateResult::kOk;
      }
    }
    // The trailer: CRC-32 then ISIZE, both little-endian.
    while (trailer_len_ < 8 && *consumed < in_len) trailer_[trailer_len_++] = in[(*consumed)++];
    if (trailer_len_ < 8) return InflateResult::kOk;
    const uint32_t want_crc = LoadLe32(trailer_);
    const uint32_t want_size = LoadLe32(trailer_ + 4);
    if (want_crc != static_cast<uint32_t>(crc_) || want_size != size_) return InflateResult::kError;
    return InflateResult::kMemberEnd;
  }

 private:
  static uint32_t LoadLe32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  }

  z_stream zs_;
  bool ok_ = false;
  uLong crc_ = 0;
  uint32_t size_ = 0;
  bool in_trailer_ = false;
  uint8_t trailer_[8] = {};
  int trailer_len_ = 0;
};

#ifdef WINNOW_HAVE_ISAL
// ISA-L: raw deflate with the gzip trailer verified by igzip itself (ISAL_GZIP_NO_HDR_VER).
class IsalInflater final : public Inflater {
 public:
  IsalInflater() : state_(std::make_unique<inflate_state>()) { isal_inflate_init(state_.get()); }

  void Reset() override {
    isal_inflate_reset(state_.get());
    state_->crc_flag = ISAL_GZIP_NO_HDR_VER;
    state_->hist_bits = 0;
  }

  InflateResult Inflate(const uint8_t* in, size_t in_len, size_t* consumed, uint8_t* out,
                        size_t out_len, size_t* produced) override {
    inflate_state& s = *state_;
    s.next_in = const_cast<uint8_t*>(in);
    s.avail_in = static_cast<uint32_t>(std::min<size_t>(in_len, kMaxChunk));
    s.next_out = out;
    s.avail_out = static_cast<uint32_t>(std::min<size_t>(out_len, kMaxChunk));
    const uint32_t avail_in = s.avail_in;
    const uint32_t avail_out = s.avail_out;
    const int ret = isal_inflate(&s);
    *consumed = avail_in - s.avail_in;
    *produced = avail_out - s.avail_out;
    if (ret != ISAL_DECOMP_OK) return InflateResult::kError;
    if (s.block_state == ISAL_BLOCK_FINISH) return InflateResult::kMemberEnd;
    return InflateResult::kOk;
  }

 private:
  std::unique_ptr<inflate_state> state_;
};
#endif

std::unique_ptr<Inflater> NewBestInflater() {
  std::unique_ptr<Inflater> isal = NewIsalInflater();
  if (isal != nullptr) return isal;
  return NewZlibInflater();
}

}  // namespace

std::unique_ptr<Inflater> NewZlibInflater() { return std::make_unique<ZlibInflater>(); }

std::unique_ptr<Inflater> NewIsalInflater() {
#ifdef WINNOW_HAVE_ISAL
  return std::make_unique<IsalInflater>();
#else
  return nullptr;
#endif
}

std::unique_ptr<GzipReader> GzipReaderTestPeer::NewWithZlib(std::unique_ptr<ByteStream> input,
                                                            GzipReaderOptions options) {
  return std::unique_ptr<GzipReader>(new GzipReader(std::move(input), options, NewZlibInflater()));
}

}  // namespace internal

namespace {

constexpr size_t kMaxGzipHeaderBytes = 1 << 20;  // FEXTRA is at most 64 KiB; names are short

enum class HeaderParse { kOk, kNeedMore, kInvalid };

// Parses the gzip member header at p[0, n) (RFC 1952 §2.3): magic, CM=8, flags, MTIME, XFL, OS,
// then the optional FEXTRA, FNAME, FCOMMENT and FHCRC fields.
HeaderParse ParseGzipHeader(const uint8_t* p, size_t n, size_t* header_len) {
  static constexpr uint8_t kMagic[3] = {0x1f, 0x8b, 0x08};
  for (size_t i = 0; i < 3 && i < n; ++i) {
    if (p[i] != kMagic[i]) return HeaderParse::kInvalid;
  }
  if (n < 10) return HeaderParse::kNeedMore;
  const uint8_t flags = p[3];
  if ((flags & 0xe0) != 0) return HeaderParse::kInvalid;  // reserved bits must be zero
  size_t pos = 10;
  if (flags & 0x04) {  // FEXTRA: XLEN (2 bytes, little-endian) then XLEN bytes
    if (n < pos + 2) return HeaderParse::kNeedMore;
    pos += 2 + (static_cast<size_t>(p[pos]) | static_cast<size_t>(p[pos + 1]) << 8);
  }
  for (const uint8_t flag : {uint8_t{0x08}, uint8_t{0x10}}) {  // FNAME, FCOMMENT: zero-terminated
    if ((flags & flag) == 0) continue;
    if (n <= pos) return HeaderParse::kNeedMore;
    const void* zero = std::memchr(p + pos, 0, n - pos);
    if (zero == nullptr) return HeaderParse::kNeedMore;
    pos = static_cast<size_t>(static_cast<const uint8_t*>(zero) - p) + 1;
  }
  if (flags & 0x02) pos += 2;  // FHCRC
  if (n < pos) return HeaderParse::kNeedMore;
  *header_len = pos;
  return HeaderParse::kOk;
}

}  // namespace

class GzipReader::Impl {
 public:
  Impl(std::unique_ptr<ByteStream> input, GzipReaderOptions options,
       std::unique_ptr<internal::Inflater> inflater)
      : input_(std::move(input)),
        options_(options),
        inflater_(std::move(inflater)),
        in_(std::max<size_t>(options.input_buffer_bytes, 64)) {}

  bool is_gzip() const { return is_gzip_; }
  uint64_t compressed_position() const { return in_base_ + in_pos_; }
  const std::string& name() const { return input_->name(); }

  absl::StatusOr<GzipChunk> Read(char* buf, size_t n) {
    GzipChunk chunk;
    while (true) {
      switch (state_) {
        case State::kSniff: {
          while (in_end_ - in_pos_ < 2 && !input_eof_) {
            if (absl::Status s = Refill(); !s.ok()) return s;
          }
          is_gzip_ = in_end_ - in_pos_ >= 2 && in_[in_pos_] == 0x1f && in_[in_pos_ + 1] == 0x8b;
          state_ = is_gzip_ ? State::kHeader : State::kPlain;
          break;
        }
        case State::kPlain:
          return ReadPlain(buf, n);
        case State::kHeader: {
          // Zero padding between or after members is harmless: skip it.
          while (in_pos_ < in_end_ && in_[in_pos_] == 0) ++in_pos_;
          if (in_pos_ == in_end_) {
            if (input_eof_) {
              state_ = State::kEnd;
              break;
            }
            if (absl::Status s = Refill(); !s.ok()) return s;
            continue;
          }
          size_t header_len = 0;
          const HeaderParse parse = ParseGzipHeader(&in_[in_pos_], in_end_ - in_pos_, &header_len);
          if (parse == HeaderParse::kNeedMore) {
            if (input_eof_) {
              in_pos_ = in_end_;
              state_ = State::kEnd;
              if (Damage("truncated_gzip", &chunk)) return chunk;
            } else if (in_end_ - in_pos_ >= kMaxGzipHeaderBytes) {
              StartResync(compressed_position() + 1);
              if (Damage("gzip_corrupt", &chunk)) return chunk;
            } else if (absl::Status s = Refill(/*grow=*/true); !s.ok()) {
              return s;
            }
            continue;
          }
          if (parse == HeaderParse::kInvalid) {
            const bool magic = in_[in_pos_] == 0x1f;
            StartResync(compressed_position() + 1);
            if (Damage(magic ? "gzip_corrupt" : "gzip_garbage", &chunk)) return chunk;
            continue;
          }
          member_offset_ = compressed_position();
          member_out_ = 0;
          in_pos_ += header_len;
          inflater_->Reset();
          state_ = State::kInflate;
          break;
        }
        case State::kInflate: {
          if (in_pos_ == in_end_ || need_input_) {
            if (input_eof_) {
              in_pos_ = in_end_;
              state_ = State::kEnd;
              if (Damage("truncated_gzip", &chunk)) return chunk;
              continue;
            }
            const bool grow = need_input_;
            need_input_ = false;
            if (absl::Status s = Refill(grow); !s.ok()) return s;
            continue;
          }
          size_t consumed = 0;
          size_t produced = 0;
          const internal::InflateResult result =
              inflater_->Inflate(&in_[in_pos_], in_end_ - in_pos_, &consumed,
                                 reinterpret_cast<uint8_t*>(buf), n, &produced);
          in_pos_ += consumed;
          chunk.size = produced;
          chunk.member_offset = member_offset_;
          chunk.member_position = member_out_;
          member_out_ += produced;
          if (produced > 0) damage_reported_ = false;
          if (result == internal::InflateResult::kError) {
            StartResync(member_offset_ + 1);
            Damage("gzip_corrupt", &chunk);
            return chunk;
          }
          if (result == internal::InflateResult::kMemberEnd) state_ = State::kHeader;
          if (produced > 0 || n == 0) return chunk;
          if (consumed == 0 && result == internal::InflateResult::kOk) need_input_ = true;
          break;
        }
        case State::kResync: {
          if (absl::Status s = FindNextMember(); !s.ok()) return s;
          break;
        }
        case State::kEnd:
          chunk.end = true;
          return chunk;
      }
    }
  }

 private:
  enum class State { kSniff, kPlain, kHeader, kInflate, kResync, kEnd };

  absl::StatusOr<GzipChunk> ReadPlain(char* buf, size_t n) {
    GzipChunk chunk;
    chunk.member_position = plain_position_;
    if (in_pos_ < in_end_) {
      chunk.size = std::min(n, in_end_ - in_pos_);
      std::memcpy(buf, &in_[in_pos_], chunk.size);
      in_pos_ += chunk.size;
    } else if (!input_eof_ && n > 0) {
      in_base_ += in_end_;
      in_pos_ = in_end_ = 0;
      absl::StatusOr<size_t> got = input_->Read(buf, n);  // large reads go straight to the caller
      if (!got.ok()) return got.status();
      if (*got == 0) input_eof_ = true;
      chunk.size = *got;
      in_base_ += *got;
    }
    plain_position_ += chunk.size;
    chunk.end = chunk.size == 0 && in_pos_ == in_end_ && input_eof_;
    return chunk;
  }

  // Records a damage reason on `chunk` unless one was already reported with no data since
  // (a run of failed resync attempts is one damage). Returns true when the chunk should go out.
  bool Damage(const char* reason, GzipChunk* chunk) {
    if (damage_reported_) return false;
    damage_reported_ = true;
    chunk->damage = reason;
    chunk->member_offset = member_offset_;
    return true;
  }

  void StartResync(uint64_t from) {
    resync_from_ = from;
    state_ = State::kResync;
  }

  // Moves to the next gzip magic at or after resync_from_, or to the end.
  absl::Status FindNextMember() {
    while (true) {
      size_t i = std::max<uint64_t>(resync_from_, in_base_) - in_base_;
      i = std::min(i, in_end_);
      while (i < in_end_) {
        const void* hit = std::memchr(&in_[i], 0x1f, in_end_ - i);
        if (hit == nullptr) {
          i = in_end_;
          break;
        }
        i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - in_.data());
        if (i + 2 >= in_end_) break;  // maybe a magic cut by the buffer end: read more
        if (in_[i + 1] == 0x8b && in_[i + 2] == 0x08) {
          in_pos_ = i;
          state_ = State::kHeader;
          return absl::OkStatus();
        }
        ++i;
      }
      in_pos_ = i;
      resync_from_ = in_base_ + i;
      if (input_eof_) {
        if (in_pos_ < in_end_) {  // a lone 0x1f or 0x1f 0x8b at the very end
          in_pos_ = in_end_;
        }
        state_ = State::kEnd;
        return absl::OkStatus();
      }
      if (absl::Status s = Refill(/*grow=*/true); !s.ok()) return s;
    }
  }

  // Reads more compressed input after the unconsumed bytes. Keeps the current member's first bytes
  // when cheap, so a resync can restart right after a member that turned out corrupt.
  absl::Status Refill(bool grow = false) {
    size_t keep_from = in_pos_;
    if (state_ == State::kInflate && member_offset_ >= in_base_) {
      const size_t member_start = static_cast<size_t>(member_offset_ - in_base_);
      if (in_pos_ - member_start <= in_.size() / 2) keep_from = member_start;
    }
    if (keep_from > 0) {
      std::memmove(in_.data(), &in_[keep_from], in_end_ - keep_from);
      in_base_ += keep_from;
      in_pos_ -= keep_from;
      in_end_ -= keep_from;
    }
    if (in_end_ == in_.size()) {
      if (!grow) return absl::OkStatus();
      in_.resize(in_.size() * 2);
    }
    const size_t want =
        std::min(in_.size() - in_end_, std::max<size_t>(options_.input_buffer_bytes, 1));
    absl::StatusOr<size_t> got = input_->Read(reinterpret_cast<char*>(&in_[in_end_]), want);
    if (!got.ok()) return got.status();
    if (*got == 0) input_eof_ = true;
    in_end_ += *got;
    return absl::OkStatus();
  }

  std::unique_ptr<ByteStream> input_;
  GzipReaderOptions options_;
  std::unique_ptr<internal::Inflater> inflater_;
  State state_ = State::kSniff;
  bool is_gzip_ = false;

  std::vector<uint8_t> in_;  // compressed input; in_[0] is at offset in_base_ of the input
  size_t in_pos_ = 0;        // next unconsumed byte
  size_t in_end_ = 0;        // end of valid bytes
  uint64_t in_base_ = 0;
  bool input_eof_ = false;
  bool need_input_ = false;  // the inflater made no progress on what is buffered

  uint64_t member_offset_ = 0;  // compressed offset of the current member
  uint64_t member_out_ = 0;     // uncompressed bytes the current member produced so far
  uint64_t resync_from_ = 0;
  bool damage_reported_ = false;
  uint64_t plain_position_ = 0;
};

GzipReader::GzipReader(std::unique_ptr<ByteStream> input, GzipReaderOptions options)
    : GzipReader(std::move(input), options, internal::NewBestInflater()) {}

GzipReader::GzipReader(std::unique_ptr<ByteStream> input, GzipReaderOptions options,
                       std::unique_ptr<internal::Inflater> inflater)
    : impl_(std::make_unique<Impl>(std::move(input), options, std::move(inflater))) {}

GzipReader::~GzipReader() = default;

absl::StatusOr<GzipChunk> GzipReader::Read(char* buf, size_t n) { return impl_->Read(buf, n); }
bool GzipReader::is_gzip() const { return impl_->is_gzip(); }
uint64_t GzipReader::compressed_position() const { return impl_->compressed_position(); }
const std::string& GzipReader::name() const { return impl_->name(); }

namespace {

class GunzipStream final : public ByteStream {
 public:
  explicit GunzipStream(std::unique_ptr<ByteStream> input) : reader_(std::move(input)) {}

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (n == 0) return 0;
    while (true) {
      absl::StatusOr<GzipChunk> chunk = reader_.Read(buf, n);
      if (!chunk.ok()) return chunk.status();
      if (!chunk->damage.empty()) {
        return absl::DataLossError(reader_.name() + ": " + std::string(chunk->damage) +
                                   " near compressed offset " +
                                   std::to_string(reader_.compressed_position()));
      }
      if (chunk->size > 0 || chunk->end) return chunk->size;
    }
  }
  const std::string& name() const override { return reader_.name(); }

 private:
  GzipReader reader_;
};

}  // namespace

std::unique_ptr<ByteStream> MaybeGunzip(std::unique_ptr<ByteStream> input) {
  return std::make_unique<GunzipStream>(std::move(input));
}

}  // namespace winnow::pipeline
