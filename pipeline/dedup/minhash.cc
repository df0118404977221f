#include "pipeline/dedup/minhash.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

// Shingles are ~30 bytes: inlined XXH64 avoids a call into the shared library per shingle.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pipeline/text/py_str.h"
#include "pipeline/text/unicode.h"
#include "pipeline/text/words.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace winnow::pipeline {
namespace {

constexpr uint64_t kMersenne61 = (uint64_t{1} << 61) - 1;  // the permutations' modulus
constexpr size_t kPad = 8;  // a_ and b_ are padded to a multiple of every kernel's lane count
constexpr int kBatch = 4;   // shingles folded into the minima per pass over the permutations

// ---------------------------------------------------------------------------------------------
// Normalisation (datatrove's simplify_text with its default TextNormConfig).

// datatrove's PUNCTUATION string, which simplify_text maps to spaces: ASCII punctuation, the C0
// controls other than \t and \n, DEL and the C1 controls (handled in code), and these.
constexpr std::array<char32_t, 34> kNonAsciiPunctuation = {
    0x00AB, 0x00B4, 0x00BB, 0x2013, 0x2014, 0x2019, 0x201C, 0x201D, 0x201E, 0x2026, 0x2236, 0x2501,
    0x25BA, 0x3001, 0x3002, 0x3008, 0x3009, 0x300A, 0x300B, 0x300C, 0x300D, 0x3010, 0x3011, 0xFF01,
    0xFF05, 0xFF08, 0xFF09, 0xFF0C, 0xFF0E, 0xFF11, 0xFF1A, 0xFF1B, 0xFF1F, 0xFF5E};

// How the fused pass treats a byte: ASCII letters and other kept ASCII map to their lower case,
// ASCII punctuation, controls and whitespace map to ' ' (runs collapse later); digits and
// non-ASCII bytes take the slow path.
constexpr uint8_t kSlow = 1;
struct ByteTables {
  std::array<char, 256> map{};
  std::array<uint8_t, 256> slow{};
};
constexpr ByteTables MakeByteTables() {
  ByteTables t;
  for (int c = 0; c < 256; ++c) {
    const bool punct = (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                       (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    const bool control = c < 0x20 || c == 0x7F;  // \t \n \v \f \r \x1c-\x1f are also whitespace
    if (c >= 0x80 || (c >= '0' && c <= '9')) {
      t.slow[c] = kSlow;
    } else if (punct || control || c == ' ') {
      t.map[c] = ' ';
    } else {
      t.map[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  }
  return t;
}
constexpr ByteTables kBytes = MakeByteTables();

bool IsNonAsciiPunctuation(char32_t c) {
  if (c >= 0x80 && c < 0xA0) return true;  // C1 controls
  return std::binary_search(kNonAsciiPunctuation.begin(), kNonAsciiPunctuation.end(), c);
}

bool IsDecimalDigit(char32_t c) { return c != kInvalidByte && (CharFlags(c) & kCharDigit); }

// The separators NUMBERS_PATTERN allows once between two runs of digits.
bool IsNumberSeparator(char32_t c) {
  return c == '.' || c == ',' || c == 0x060C || c == 0x066B || (c >= 0x2396 && c <= 0x2398);
}

// Writes code point `c` as UTF-8 at `o`; returns the end.
char* AppendUtf8(char32_t c, char* o) {
  if (c < 0x80) {
    *o++ = static_cast<char>(c);
  } else if (c < 0x800) {
    *o++ = static_cast<char>(0xC0 | (c >> 6));
    *o++ = static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    *o++ = static_cast<char>(0xE0 | (c >> 12));
    *o++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    *o++ = static_cast<char>(0x80 | (c & 0x3F));
  } else {
    *o++ = static_cast<char>(0xF0 | (c >> 18));
    *o++ = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    *o++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    *o++ = static_cast<char>(0x80 | (c & 0x3F));
  }
  return o;
}

const icu::Normalizer2* NfdInstance() {
  static const icu::Normalizer2* const nfd = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfd;
}

// True when NFD and dropping non-spacing marks change code point `c` (or may, through its
// neighbours): it decomposes, has a non-zero combining class, or is an Mn mark.
bool TouchedByNfd(char32_t c) {
  if (c < 0xC0) return false;
  const icu::Normalizer2* nfd = NfdInstance();
  const auto u = static_cast<UChar32>(c);
  return nfd == nullptr || !nfd->isInert(u) || u_charType(u) == U_NON_SPACING_MARK;
}

// simplify_text's steps up to NFD, fused into one pass over `s`: lower-case, numbers to "0",
// punctuation to space, whitespace stripped and collapsed. Writes into `*buf` (grown, never
// shrunk) and returns the length. With `lower`, returns SIZE_MAX instead when `s` has a character
// this pass leaves to ICU: an invalid byte, 'Σ' (final sigma depends on the neighbours) or 'İ'
// (lowers to two code points); otherwise `s` must already be lower-cased valid UTF-8.
// `*needs_nfd` is set when some kept code point is TouchedByNfd.
size_t FoldPass(std::string_view s, bool lower, std::string* buf, bool* needs_nfd) {
  // Lower-casing grows a code point by at most half (2 → 3 bytes); the rest only shrinks.
  if (buf->size() < 2 * s.size() + 16) buf->resize(2 * s.size() + 16);
  char* const begin = buf->data();
  char* o = begin;
  // Spaces are written branch-free: a ' ' right after another (or at the start) is overwritten.
  bool last_space = true;
  auto put_space = [&] {
    *o = ' ';
    o += !last_space;
    last_space = true;
  };
  *needs_nfd = false;
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const auto byte = static_cast<unsigned char>(s[i]);
    if (kBytes.slow[byte] == 0) {
      const char c = kBytes.map[byte];
      const bool space = c == ' ';
      *o = c;
      o += !(space && last_space);
      last_space = space;
      ++i;
      continue;
    }
    size_t next = i;
    char32_t c = DecodeUtf8(s, &next);
    if (IsDecimalDigit(c)) {
      // NUMBERS_PATTERN: \p{Nd}+([.,،٫⎖⎗⎘]\p{Nd}+)? becomes "0".
      auto skip_digits = [&](size_t pos) {
        while (pos < n) {
          const auto b = static_cast<unsigned char>(s[pos]);
          if (b >= '0' && b <= '9') {
            ++pos;
            continue;
          }
          if (b < 0x80) break;
          size_t after = pos;
          if (!IsDecimalDigit(DecodeUtf8(s, &after))) break;
          pos = after;
        }
        return pos;
      };
      size_t j = skip_digits(next);
      if (j < n) {
        size_t after_sep = j;
        if (IsNumberSeparator(DecodeUtf8(s, &after_sep)) && after_sep < n) {
          size_t after_digit = after_sep;
          if (IsDecimalDigit(DecodeUtf8(s, &after_digit))) j = skip_digits(after_digit);
        }
      }
      *o++ = '0';
      last_space = false;
      i = j;
      continue;
    }
    if (c != kInvalidByte && (IsNonAsciiPunctuation(c) || (CharFlags(c) & kCharSpace))) {
      put_space();
      i = next;
      continue;
    }
    if (lower) {
      if (c == kInvalidByte || c == 0x3A3 || c == 0x130) return SIZE_MAX;
      c = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
    }
    if (c == kInvalidByte) {  // not reached: the caller made `s` valid
      *o++ = s[i];
    } else {
      o = AppendUtf8(c, o);
      if (!*needs_nfd && TouchedByNfd(c)) *needs_nfd = true;
    }
    last_space = false;
    i = next;
  }
  if (o != begin && o[-1] == ' ') --o;  // strip the trailing space
  return static_cast<size_t>(o - begin);
}

// NFD, then drop non-spacing marks and strip: simplify_text's last steps. `s` is valid UTF-8.
void DecomposeDropMarks(std::string_view s, std::string* nfd, std::string* out) {
  const icu::Normalizer2* normalizer = NfdInstance();
  UErrorCode status = U_ZERO_ERROR;
  nfd->clear();
  if (normalizer != nullptr) {
    icu::StringByteSink<std::string> sink(nfd);
    normalizer->normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), sink,
                              nullptr, status);
  }
  const std::string_view decomposed =
      normalizer != nullptr && U_SUCCESS(status) ? std::string_view(*nfd) : s;
  out->clear();
  size_t i = 0;
  while (i < decomposed.size()) {
    size_t run = i;  // copy ASCII runs whole
    while (run < decomposed.size() && static_cast<unsigned char>(decomposed[run]) < 0x80) ++run;
    if (run > i) {
      out->append(decomposed.substr(i, run - i));
      i = run;
      continue;
    }
    const size_t start = i;
    const char32_t c = DecodeUtf8(decomposed, &i);
    if (c >= 0x300 && c != kInvalidByte &&
        u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK) {
      continue;
    }
    out->append(decomposed.substr(start, i - start));
  }
  const std::string_view stripped = PyStrip(*out);
  if (stripped.size() != out->size()) *out = std::string(stripped);
}

// Per-thread buffers above this size are freed after use, so one huge document does not pin its
// memory for the life of the thread.
constexpr size_t kHugeBuffer = size_t{64} << 20;

struct NormalizeScratch {
  std::string valid, lowered, folded, nfd, out;
  void ReleaseIfHuge() {
    for (std::string* b : {&valid, &lowered, &folded, &nfd, &out}) {
      if (b->capacity() > kHugeBuffer) std::string().swap(*b);
    }
  }
};

// The normalised `text`: a view into `*scratch`, valid until its next use.
std::string_view NormalizeInto(std::string_view text, NormalizeScratch* scratch) {
  // ICU takes int32 lengths; a longer text is cut (no real document comes near 2 GiB).
  if (text.size() > static_cast<size_t>(INT32_MAX) / 2) text = text.substr(0, INT32_MAX / 2);
  bool needs_nfd = false;
  size_t len = FoldPass(text, /*lower=*/true, &scratch->folded, &needs_nfd);
  if (len == SIZE_MAX) {
    // The general path: invalid bytes to U+FFFD, then Python's str.lower() (full case mapping with
    // Final_Sigma), which is ICU's root-locale lowering.
    if (ReplaceInvalidUtf8(text, &scratch->valid)) text = scratch->valid;
    scratch->lowered.clear();
    UErrorCode status = U_ZERO_ERROR;
    icu::StringByteSink<std::string> sink(&scratch->lowered);
    icu::CaseMap::utf8ToLower("", 0,
                              icu::StringPiece(text.data(), static_cast<int32_t>(text.size())),
                              sink, nullptr, status);
    if (U_FAILURE(status)) scratch->lowered.assign(text);
    len = FoldPass(scratch->lowered, /*lower=*/false, &scratch->folded, &needs_nfd);
  }
  const std::string_view folded(scratch->folded.data(), len);
  if (!needs_nfd) return folded;
  DecomposeDropMarks(folded, &scratch->nfd, &scratch->out);
  return scratch->out;
}

// ---------------------------------------------------------------------------------------------
// Shingle hashes.

// SHA-1 (FIPS 180-4), one 64-byte block `p` into the state `h`.
using Sha1BlockFn = void (*)(uint32_t* h, const unsigned char* p);

void Sha1BlockPortable(uint32_t* h, const unsigned char* p) {
  uint32_t w[80];
  for (int t = 0; t < 16; ++t) {
    w[t] = (uint32_t{p[4 * t]} << 24) | (uint32_t{p[4 * t + 1]} << 16) |
           (uint32_t{p[4 * t + 2]} << 8) | uint32_t{p[4 * t + 3]};
  }
  for (int t = 16; t < 80; ++t) w[t] = std::rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  auto round = [&](uint32_t f, uint32_t k, uint32_t wt) {
    const uint32_t temp = std::rotl(a, 5) + f + e + k + wt;
    e = d, d = c, c = std::rotl(b, 30), b = a, a = temp;
  };
  for (int t = 0; t < 20; ++t) round((b & c) | (~b & d), 0x5A827999, w[t]);
  for (int t = 20; t < 40; ++t) round(b ^ c ^ d, 0x6ED9EBA1, w[t]);
  for (int t = 40; t < 60; ++t) round((b & c) | (b & d) | (c & d), 0x8F1BBCDC, w[t]);
  for (int t = 60; t < 80; ++t) round(b ^ c ^ d, 0xCA62C1D6, w[t]);
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same with the SHA extensions: 20 groups of 4 rounds. Group g adds message words 4g…4g+3
// (sha1nexte folds them into E), runs 4 rounds with the function of round 4g (g / 5), and extends
// the schedule: msg2 finishes the words of group g+1, msg1 and xor start those of g+3 and g+2.
template <int g>
__attribute__((target("sha,sse4.1,ssse3"), always_inline)) inline void Sha1Group(__m128i* abcd,
                                                                                 __m128i* e,
                                                                                 __m128i* msg) {
  if constexpr (g == 0) {
    e[0] = _mm_add_epi32(e[0], msg[0]);
  } else {
    e[g % 2] = _mm_sha1nexte_epu32(e[g % 2], msg[g % 4]);
  }
  e[(g + 1) % 2] = *abcd;
  if constexpr (g >= 3) msg[(g + 1) % 4] = _mm_sha1msg2_epu32(msg[(g + 1) % 4], msg[g % 4]);
  *abcd = _mm_sha1rnds4_epu32(*abcd, e[g % 2], g / 5);
  if constexpr (g >= 1) msg[(g + 3) % 4] = _mm_sha1msg1_epu32(msg[(g + 3) % 4], msg[g % 4]);
  if constexpr (g >= 2) msg[(g + 2) % 4] = _mm_xor_si128(msg[(g + 2) % 4], msg[g % 4]);
}

template <int... g>
__attribute__((target("sha,sse4.1,ssse3"), always_inline)) inline void Sha1Groups(
    __m128i* abcd, __m128i* e, __m128i* msg, const unsigned char* p,
    std::integer_sequence<int, g...>) {
  const __m128i byte_swap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  for (int i = 0; i < 4; ++i) {
    msg[i] =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)), byte_swap);
  }
  (Sha1Group<g>(abcd, e, msg), ...);
}

__attribute__((target("sha,sse4.1,ssse3"))) void Sha1BlockShaNi(uint32_t* h,
                                                                const unsigned char* p) {
  // abcd holds a, b, c, d from the high lane down; e's high lane is e.
  __m128i abcd = _mm_set_epi32(static_cast<int>(h[0]), static_cast<int>(h[1]),
                               static_cast<int>(h[2]), static_cast<int>(h[3]));
  __m128i e[2] = {_mm_set_epi32(static_cast<int>(h[4]), 0, 0, 0), _mm_setzero_si128()};
  const __m128i abcd_in = abcd, e_in = e[0];
  __m128i msg[4];
  Sha1Groups(&abcd, e, msg, p, std::make_integer_sequence<int, 20>());
  // After group 19, e[0] holds the e that enters the final addition.
  e[0] = _mm_sha1nexte_epu32(e[0], e_in);
  abcd = _mm_add_epi32(abcd, abcd_in);
  h[0] = static_cast<uint32_t>(_mm_extract_epi32(abcd, 3));
  h[1] = static_cast<uint32_t>(_mm_extract_epi32(abcd, 2));
  h[2] = static_cast<uint32_t>(_mm_extract_epi32(abcd, 1));
  h[3] = static_cast<uint32_t>(_mm_extract_epi32(abcd, 0));
  h[4] = static_cast<uint32_t>(_mm_extract_epi32(e[0], 3));
}
#endif

// SHA-1 of `data`; the first 8 bytes of the digest as a little-endian integer, which is
// datatrove's sha1_hash64.
uint64_t Sha1Hash64(std::string_view data, Sha1BlockFn block) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  const uint64_t bits = static_cast<uint64_t>(n) * 8;
  for (; n >= 64; n -= 64, p += 64) block(h, p);
  unsigned char tail[128] = {};
  std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const size_t tail_len = n + 9 <= 64 ? 64 : 128;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  block(h, tail);
  if (tail_len == 128) block(h, tail + 64);
  // Digest bytes 0…7 are h[0] and h[1] big-endian; read them as a little-endian integer.
  uint64_t out = 0;
  for (int i = 0; i < 8; ++i) {
    const uint64_t byte = (h[i / 4] >> (24 - 8 * (i % 4))) & 0xFF;
    out |= byte << (8 * i);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The permutations: mins[k] = min(mins[k], (h[j]·a[k] + b[k] mod 2^64) mod (2^61 − 1)) for the
// kBatch hashes h[j] and the `padded` (a multiple of kPad) permutations k.
//
// Lanes of kLanes permutations keep their minima in registers while the batch streams through;
// the inner loop has a constant trip count, which GCC vectorises at -O2 (AVX-512 has the 64-bit
// multiply). Minima are signed: every value is < 2^61, and AVX2 compares only signed 64-bit
// integers.
template <size_t kLanes>
inline __attribute__((always_inline)) void MinimaKernel(const uint64_t* __restrict h,
                                                        const uint64_t* __restrict a,
                                                        const uint64_t* __restrict b,
                                                        int64_t* __restrict mins, size_t padded) {
  static_assert(kPad % kLanes == 0);
  for (size_t k0 = 0; k0 < padded; k0 += kLanes) {
    int64_t m[kLanes];
    for (size_t l = 0; l < kLanes; ++l) m[l] = mins[k0 + l];
    for (int j = 0; j < kBatch; ++j) {
      const uint64_t hj = h[j];
      for (size_t l = 0; l < kLanes; ++l) {
        uint64_t x = hj * a[k0 + l] + b[k0 + l];  // mod 2^64, as numpy's uint64 arithmetic
        x = (x & kMersenne61) + (x >> 61);        // ≡ x (mod 2^61 − 1), at most 2^61 + 6
        const auto y = static_cast<int64_t>(x >= kMersenne61 ? x - kMersenne61 : x);
        m[l] = y < m[l] ? y : m[l];
      }
    }
    for (size_t l = 0; l < kLanes; ++l) mins[k0 + l] = m[l];
  }
}

// a_hi[k] = a[k] >> 32, for kernels that multiply in 32-bit halves.
using MinimaFn = void (*)(const uint64_t* h, const uint64_t* a, const uint64_t* a_hi,
                          const uint64_t* b, int64_t* mins, size_t padded);

void MinimaPortable(const uint64_t* h, const uint64_t* a, const uint64_t* /*a_hi*/,
                    const uint64_t* b, int64_t* mins, size_t padded) {
  MinimaKernel<8>(h, a, b, mins, padded);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define WINNOW_MINHASH_X86 1
__attribute__((target("arch=x86-64-v4"))) void MinimaAvx512(const uint64_t* h, const uint64_t* a,
                                                            const uint64_t* /*a_hi*/,
                                                            const uint64_t* b, int64_t* mins,
                                                            size_t padded) {
  MinimaKernel<8>(h, a, b, mins, padded);
}

// AVX2 has no 64-bit multiply: h·a mod 2^64 = lo(h)·lo(a) + ((hi(h)·lo(a) + lo(h)·hi(a)) << 32),
// three 32 × 32 → 64-bit multiplies per 4 lanes. Written with intrinsics: GCC's own emulation of
// the 64-bit multiply is a third slower.
__attribute__((target("avx2"))) void MinimaAvx2(const uint64_t* h, const uint64_t* a,
                                                const uint64_t* a_hi, const uint64_t* b,
                                                int64_t* mins, size_t padded) {
  const __m256i p = _mm256_set1_epi64x(static_cast<int64_t>(kMersenne61));
  const __m256i p_minus_1 = _mm256_set1_epi64x(static_cast<int64_t>(kMersenne61 - 1));
  __m256i h_lo[kBatch], h_hi[kBatch];  // _mm256_mul_epu32 reads the low 32 bits of each lane
  for (int j = 0; j < kBatch; ++j) {
    h_lo[j] = _mm256_set1_epi64x(static_cast<int64_t>(h[j]));
    h_hi[j] = _mm256_set1_epi64x(static_cast<int64_t>(h[j] >> 32));
  }
  for (size_t k = 0; k < padded; k += 4) {
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + k));
    const __m256i av_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a_hi + k));
    const __m256i bv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + k));
    __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mins + k));
    for (int j = 0; j < kBatch; ++j) {
      const __m256i cross =
          _mm256_add_epi64(_mm256_mul_epu32(h_hi[j], av), _mm256_mul_epu32(h_lo[j], av_hi));
      __m256i x = _mm256_add_epi64(_mm256_mul_epu32(h_lo[j], av), _mm256_slli_epi64(cross, 32));
      x = _mm256_add_epi64(x, bv);
      x = _mm256_add_epi64(_mm256_and_si256(x, p), _mm256_srli_epi64(x, 61));
      x = _mm256_sub_epi64(x, _mm256_and_si256(_mm256_cmpgt_epi64(x, p_minus_1), p));
      m = _mm256_blendv_epi8(m, x, _mm256_cmpgt_epi64(m, x));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(mins + k), m);
  }
}
#endif

struct Kernel {
  std::string_view name;
  MinimaFn minima;
  Sha1BlockFn sha1;
};

// The kernels this CPU runs, best first. The vector kernels use the SHA extensions when the CPU
// has them; "portable" uses neither.
const std::vector<Kernel>& AvailableKernels() {
  static const std::vector<Kernel> kernels = [] {
    std::vector<Kernel> k;
#ifdef WINNOW_MINHASH_X86
    __builtin_cpu_init();
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool sha = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 29)) &&
                     __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
    const Sha1BlockFn sha1 = sha ? &Sha1BlockShaNi : &Sha1BlockPortable;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
        __builtin_cpu_supports("fma")) {
      k.push_back({"avx512", &MinimaAvx512, sha1});
    }
    if (__builtin_cpu_supports("avx2")) k.push_back({"avx2", &MinimaAvx2, sha1});
#endif
    k.push_back({"portable", &MinimaPortable, &Sha1BlockPortable});
    return k;
  }();
  return kernels;
}

std::atomic<const Kernel*>& ActiveKernel() {
  static std::atomic<const Kernel*> kernel{&AvailableKernels().front()};
  return kernel;
}

// Per-thread buffers, so steady-state signatures allocate only their result.
struct TextScratch {
  NormalizeScratch normalize;
  std::vector<std::string_view> words;
};
struct HashScratch {
  std::vector<uint8_t> joined;  // joined[t]: words t and t+1 are separated by exactly one ' '
  std::string shingle;
  std::vector<int64_t> mins;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

void MinHashParameters(uint64_t seed, size_t n, std::vector<uint64_t>* a,
                       std::vector<uint64_t>* b) {
  // numpy's legacy seeding of an int is MT19937's init_genrand, which std::mt19937 also uses.
  std::mt19937 mt(static_cast<uint32_t>(seed));
  auto draw = [&mt](uint64_t low, uint64_t high) {  // randint(low, high): [low, high)
    const uint64_t range = high - 1 - low;
    const uint64_t mask = ~uint64_t{0} >> std::countl_zero(range);
    while (true) {
      const uint64_t hi = mt();
      const uint64_t lo = mt();
      const uint64_t v = ((hi << 32) | lo) & mask;
      if (v <= range) return low + v;
    }
  };
  a->resize(n);
  b->resize(n);
  for (auto& x : *a) x = draw(1, kMersenne61);
  for (auto& x : *b) x = draw(0, kMersenne61);
}

std::vector<std::string_view> internal::MinHashKernels() {
  std::vector<std::string_view> names;
  for (const Kernel& k : AvailableKernels()) names.push_back(k.name);
  return names;
}

bool internal::UseMinHashKernel(std::string_view name) {
  for (const Kernel& k : AvailableKernels()) {
    if (k.name == name) {
      ActiveKernel().store(&k, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

absl::Status ValidateMinHashOptions(const MinHashOptions& options) {
  if (options.ngram < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("minhash.ngram must be >= 1, got ", options.ngram));
  }
  if (options.bands < 1 || options.rows < 1 ||
      static_cast<int64_t>(options.bands) * options.rows > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("minhash.bands (", options.bands,
                                                   ") and minhash.rows (", options.rows,
                                                   ") must be >= 1 with bands * rows <= 4096"));
  }
  if (options.hash != "xxhash64" && options.hash != "sha1") {
    return absl::InvalidArgumentError(
        absl::StrCat("minhash.hash must be xxhash64 or sha1, got \"", options.hash, "\""));
  }
  if (options.seed > UINT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("minhash.seed must be < 2^32 (numpy's limit), got ", options.seed));
  }
  return absl::OkStatus();
}

MinHasher::MinHasher(MinHashOptions options) : options_(std::move(options)) {
  if (const absl::Status status = ValidateMinHashOptions(options_); !status.ok()) {
    std::fprintf(stderr, "MinHasher: %s\n", std::string(status.message()).c_str());
    std::abort();
  }
  sha1_ = options_.hash == "sha1";
  num_hashes_ = static_cast<size_t>(options_.bands) * static_cast<size_t>(options_.rows);
  MinHashParameters(options_.seed, num_hashes_, &a_, &b_);
  const size_t padded = (num_hashes_ + kPad - 1) / kPad * kPad;
  a_.resize(padded, 0);  // padding permutations map everything to 0; their minima are ignored
  b_.resize(padded, 0);
  a_hi_.resize(padded);
  for (size_t k = 0; k < padded; ++k) a_hi_[k] = a_[k] >> 32;
}

absl::StatusOr<MinHasher> MinHasher::Create(MinHashOptions options) {
  if (absl::Status status = ValidateMinHashOptions(options); !status.ok()) return status;
  return MinHasher(std::move(options));
}

std::string MinHasher::Normalize(std::string_view text) {
  thread_local NormalizeScratch scratch;
  std::string out(NormalizeInto(text, &scratch));
  scratch.ReleaseIfHuge();
  return out;
}

std::vector<uint64_t> MinHasher::Signature(std::string_view text) const {
  thread_local TextScratch s;
  const std::string_view normalized = NormalizeInto(text, &s.normalize);
  SplitWords(normalized, &s.words);
  std::vector<uint64_t> signature = SignatureOfWords(normalized, s.words);
  s.normalize.ReleaseIfHuge();
  if (s.words.capacity() > kHugeBuffer / sizeof(std::string_view)) {
    std::vector<std::string_view>().swap(s.words);
  }
  return signature;
}

std::vector<uint64_t> MinHasher::SignatureOfWords(std::string_view text,
                                                  std::span<const std::string_view> words) const {
  const size_t n = static_cast<size_t>(options_.ngram);
  if (words.size() < n) return {};
  thread_local HashScratch s;

  // joined[t]: word t+1 starts one ' ' after word t ends, so a shingle made only of such pairs is
  // a slice of `text` and is hashed in place.
  const char* const text_end = text.data() + text.size();
  s.joined.resize(words.size());
  for (size_t t = 0; t + 1 < words.size(); ++t) {
    const char* end = words[t].data() + words[t].size();
    s.joined[t] = end < text_end && end + 1 == words[t + 1].data() && *end == ' ';
  }
  size_t unjoined = 0;  // pairs in the current window that are not joined
  for (size_t t = 0; t + 1 < n; ++t) unjoined += !s.joined[t];

  const Kernel* const kernel = ActiveKernel().load(std::memory_order_relaxed);
  const size_t padded = a_.size();
  s.mins.assign(padded, static_cast<int64_t>(kMersenne61));
  uint64_t batch[kBatch];
  int filled = 0;
  const size_t count = words.size() - n + 1;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) {
      unjoined -= !s.joined[i - 1];
      unjoined += !s.joined[i + n - 2];
    }
    std::string_view shingle;
    if (unjoined == 0) {
      const char* begin = words[i].data();
      const char* end = words[i + n - 1].data() + words[i + n - 1].size();
      shingle = std::string_view(begin, static_cast<size_t>(end - begin));
    } else {
      s.shingle.clear();
      for (size_t t = i; t < i + n; ++t) {
        if (t > i) s.shingle.push_back(' ');
        s.shingle.append(words[t]);
      }
      shingle = s.shingle;
    }
    batch[filled++] =
        sha1_ ? Sha1Hash64(shingle, kernel->sha1) : XXH64(shingle.data(), shingle.size(), 0);
    if (filled == kBatch) {
      kernel->minima(batch, a_.data(), a_hi_.data(), b_.data(), s.mins.data(), padded);
      filled = 0;
    }
  }
  if (filled > 0) {
    for (int j = filled; j < kBatch; ++j) batch[j] = batch[0];  // a repeat leaves minima unchanged
    kernel->minima(batch, a_.data(), a_hi_.data(), b_.data(), s.mins.data(), padded);
  }
  return std::vector<uint64_t>(s.mins.begin(),
                               s.mins.begin() + static_cast<ptrdiff_t>(num_hashes_));
}

std::vector<uint64_t> MinHasher::BandKeys(const std::vector<uint64_t>& signature) const {
  std::vector<uint64_t> keys;
  if (signature.size() != num_hashes_) return keys;
  const size_t rows = static_cast<size_t>(options_.rows);
  keys.reserve(static_cast<size_t>(options_.bands));
  std::vector<unsigned char> bytes(rows * 8);
  for (size_t band = 0; band < static_cast<size_t>(options_.bands); ++band) {
    for (size_t r = 0; r < rows; ++r) {
      const uint64_t v = signature[band * rows + r];
      for (int i = 0; i < 8; ++i) bytes[r * 8 + i] = static_cast<unsigned char>(v >> (8 * i));
    }
    keys.push_back(XXH3_64bits_withSeed(bytes.data(), bytes.size(), band));
  }
  return keys;
}

}  // namespace winnow::pipeline
