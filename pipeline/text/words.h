// pipeline/text/words.h — word and sentence splitting that agrees with spaCy's English tokenizer
// (`spacy.blank("en")`) and its rule-based sentencizer, which is what the reference (datatrove)
// uses for English. The Gopher, C4 and FineWeb filters count words and sentences with these.
// Agreement is measured by bench/tokenizer_agreement.py (results in bench/RESULTS_tokenizer.md) and
// asserted by tests/pipeline/text/spacy_agreement_test.cc.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace winnow::pipeline {

// spaCy-English word tokens, as datatrove's word_tokenize returns them: split on whitespace, then
// prefix/suffix punctuation peeled off, infixes split (hyphens and '.', ',', ':', '/' … between
// letters), contractions and spaCy's other special cases (n't 's 're 'll 've 'd 'm, "e.g.", "Mr.",
// emoticons …), URLs, emails and numbers kept whole. Whitespace tokens are never returned. The
// tokens are views into `text`. Invalid UTF-8 bytes behave like letters. Thread-safe.
std::vector<std::string_view> SplitWords(std::string_view text);
// The same into `*words` (cleared first), so a caller can reuse its buffer.
void SplitWords(std::string_view text, std::vector<std::string_view>* words);

// SplitWords(text), memoised per thread: the filters of one document tokenize the same text, and a
// repeated call costs one hash of the text. The result is valid until this thread's next call.
const std::vector<std::string_view>& SplitWordsCached(std::string_view text);

// Makes `*words` (taken, left empty) this thread's cached SplitWords of `text`, for a caller that
// built `text` from pieces whose words it knows (C4 joining the lines it keeps). `*words` must be
// exactly SplitWords(text).
void PrimeWordsCache(std::string_view text, std::vector<std::string_view>* words);

// Sentences as datatrove's sent_tokenize gives them: spaCy's sentencizer starts a sentence at the
// first token after a '.', '!', '?' (or another of its terminal characters) token and any
// punctuation right after it, so closing quotes and brackets stay with their sentence. Views into
// `text`, without surrounding whitespace; sentences with no words are left out.
std::vector<std::string_view> SplitSentences(std::string_view text);
// SplitSentences(text).size(), without building the views.
int CountSentences(std::string_view text);

// Every sentence spaCy makes of `text` as [begin, end) byte offsets (datatrove's span_tokenize),
// including a trailing one made only of whitespace (" Hi.\n" gives "Hi." and "\n").
void SentenceSpans(std::string_view text, std::vector<std::pair<size_t, size_t>>* spans);
// The number of SentenceSpans of `text` given its words, e.g. a line's slice of the words of the
// whole text: a line break ends spaCy's tokens, so the words of the whole text that lie within a
// line are that line's words.
int CountSentenceSpans(std::string_view text, std::span<const std::string_view> words);

}  // namespace winnow::pipeline
