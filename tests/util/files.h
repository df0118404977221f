// tests/util/files.h — small file helpers the tests share: a file's bytes, and the byte-level
// tokenizer (256 byte tokens + <|endoftext|>) that lets `tiny` train in milliseconds a step.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace winnow::testing {

// The whole file ("" when it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes DIR/bytes.tiktoken (byte b has rank b) and DIR/winnow_tokenizer.json (GPT-2's split
// pattern, <|endoftext|> = 256); returns the tokenizer SPEC (the .tiktoken path).
inline std::string WriteByteTokenizer(const std::string& dir) {
  std::filesystem::create_directories(dir);
  static const char* kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::ofstream ranks(dir + "/bytes.tiktoken");
  for (int b = 0; b < 256; b++) {  // one byte in base64: two characters and "=="
    ranks << kBase64[b >> 2] << kBase64[(b & 3) << 4] << "== " << b << "\n";
  }
  std::ofstream(dir + "/winnow_tokenizer.json")
      << R"({"pattern": "r50k", "specials": {"<|endoftext|>": 256}})";
  return dir + "/bytes.tiktoken";
}

}  // namespace winnow::testing
