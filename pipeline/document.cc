#include "pipeline/document.h"

namespace winnow::pipeline {
namespace {

// Fields are separated by 0x00; strings never contain it in practice, and the separator sorts below
// every other byte, so ("a", …) < ("ab", …) as it should. The offset is big-endian fixed width.
constexpr char kSep = '\0';

}  // namespace

std::string DocumentKey::Encode() const {
  std::string out;
  out.reserve(snapshot.size() + input.size() + 10);
  out += snapshot;
  out += kSep;
  out += input;
  out += kSep;
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((offset >> shift) & 0xff);
  return out;
}

bool DocumentKey::Decode(std::string_view encoded, DocumentKey* key) {
  if (encoded.size() < 10) return false;
  const std::string_view offset_bytes = encoded.substr(encoded.size() - 8);
  std::string_view head = encoded.substr(0, encoded.size() - 8);
  if (head.back() != kSep) return false;
  head.remove_suffix(1);
  const size_t sep = head.find(kSep);
  if (sep == std::string_view::npos) return false;
  key->snapshot = std::string(head.substr(0, sep));
  key->input = std::string(head.substr(sep + 1));
  key->offset = 0;
  for (char c : offset_bytes) key->offset = (key->offset << 8) | static_cast<unsigned char>(c);
  return true;
}

nlohmann::json ToDatatroveJson(const Document& doc) {
  nlohmann::json metadata = doc.metadata;
  metadata["url"] = doc.url;
  metadata["date"] = doc.date;
  metadata["dump"] = doc.key.snapshot;
  metadata["file_path"] = doc.key.input;
  metadata["offset"] = doc.key.offset;
  return nlohmann::json{{"text", doc.text}, {"id", doc.id}, {"metadata", std::move(metadata)}};
}

}  // namespace winnow::pipeline
