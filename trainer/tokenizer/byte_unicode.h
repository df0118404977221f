// trainer/tokenizer/byte_unicode.h — GPT-2's reversible byte ↔ printable-unicode alphabet, in which
// encoder.json, vocab.bpe and Hugging Face byte-level tokenizer.json files spell tokens (a space is
// "Ġ", a newline "Ċ").
#pragma once

#include <string>
#include <string_view>

namespace winnow::trainer {

// The UTF-8 string that spells `bytes` in the alphabet.
std::string BytesToUnicode(std::string_view bytes);
// The bytes a string in the alphabet spells; false if some character is not in the alphabet.
bool UnicodeToBytes(std::string_view text, std::string* bytes);

}  // namespace winnow::trainer
