#include "trainer/train/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace winnow::trainer {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian tensors; this writer copies memory as is");

namespace {

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<SafetensorsTensorView>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  meta["format"] = "pt";
  for (const auto& [k, v] : metadata) {
    if (k != "format") meta[k] = v;
  }
  header["__metadata__"] = meta;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const SafetensorsTensorView& t : tensors) {
    if (!names.insert(t.name).second || t.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat("safetensors: tensor name repeats: ", t.name));
    }
    if (Elements(t.shape) != static_cast<int64_t>(t.data.size())) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors: ", t.name, " has ",
                                                     t.data.size(), " floats, not its shape's ",
                                                     Elements(t.shape)));
    }
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();

  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot write ", path));
  bool ok = std::fwrite(&n, sizeof(n), 1, f) == 1 && std::fwrite(json.data(), 1, n, f) == n;
  for (const SafetensorsTensorView& t : tensors) {
    if (!ok) break;
    ok = std::fwrite(t.data.data(), sizeof(float), t.data.size(), f) == t.data.size();
  }
  ok = std::fflush(f) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

const SafetensorsTensor* SafetensorsFile::Find(const std::string& name) const {
  for (const SafetensorsTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid safetensors file: ", why));
  };
  uint64_t n = 0;
  if (bytes.size() < sizeof(n)) return bad("shorter than its header length");
  std::memcpy(&n, bytes.data(), sizeof(n));
  if (n > bytes.size() - sizeof(n)) return bad("header length beyond the end of the file");
  const nlohmann::json header =
      nlohmann::json::parse(bytes.begin() + sizeof(n), bytes.begin() + sizeof(n) + n, nullptr,
                            /*allow_exceptions=*/false);
  if (!header.is_object()) return bad("header is not a JSON object");
  const size_t data_begin = sizeof(n) + n;
  const uint64_t data_size = bytes.size() - data_begin;

  SafetensorsFile file;
  struct Entry {
    uint64_t begin, end;
    SafetensorsTensor tensor;
  };
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return bad("__metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) return bad(absl::StrCat("metadata ", k, " is not a string"));
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!value.is_object() || value.value("dtype", "") != "F32" || !value.contains("shape") ||
        !value["shape"].is_array() || !value.contains("data_offsets") ||
        !value["data_offsets"].is_array() || value["data_offsets"].size() != 2) {
      return bad(absl::StrCat(name, ": expected an F32 tensor with shape and data_offsets"));
    }
    Entry e;
    e.tensor.name = name;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return bad(absl::StrCat(name, ": shape"));
      e.tensor.shape.push_back(d.get<int64_t>());
    }
    if (!value["data_offsets"][0].is_number_unsigned() ||
        !value["data_offsets"][1].is_number_unsigned()) {
      return bad(absl::StrCat(name, ": data_offsets"));
    }
    e.begin = value["data_offsets"][0].get<uint64_t>();
    e.end = value["data_offsets"][1].get<uint64_t>();
    if (e.end < e.begin || e.end - e.begin != static_cast<uint64_t>(Elements(e.tensor.shape)) * 4) {
      return bad(absl::StrCat(name, ": data_offsets do not match the shape"));
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (Entry& e : entries) {
    if (e.begin != expected) return bad(absl::StrCat(e.tensor.name, ": offsets not contiguous"));
    if (e.end > data_size) return bad(absl::StrCat(e.tensor.name, ": data beyond the end"));
    expected = e.end;
    e.tensor.data.resize((e.end - e.begin) / 4);
    std::memcpy(e.tensor.data.data(), bytes.data() + data_begin + e.begin, e.end - e.begin);
    file.tensors.push_back(std::move(e.tensor));
  }
  if (expected != data_size) return bad("tensor data does not end where the file does");
  return file;
}

}  // namespace winnow::trainer
