// Word splits of each pre-tokenizer on inputs where the regexes differ, worked out by hand from
// the regexes llama.cpp uses (see pretokenizer.h). The golden tests cover the same scanners end to
// end, but a vocab with single-digit tokens only (SmolLM2's) cannot show how digits are grouped.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace nagare {
namespace {

std::vector<std::string> split(PreTokenizer type, const std::string& text) {
  std::vector<uint32_t> cps;
  unicode::decode_utf8(text, cps);
  std::vector<uint16_t> flags;
  for (uint32_t cp : cps) flags.push_back(unicode::flags(cp));
  std::vector<size_t> lens;
  pretokenize(type, cps, flags, lens);
  std::vector<std::string> words;
  size_t pos = 0;
  for (size_t len : lens) {
    std::string w;
    for (size_t i = pos; i < pos + len; ++i) unicode::append_utf8(cps[i], w);
    words.push_back(w);
    pos += len;
  }
  EXPECT_EQ(pos, cps.size());
  return words;
}

using W = std::vector<std::string>;

TEST(PreTokenizer, Digits) {
  EXPECT_EQ(split(PreTokenizer::kGpt2, "a 1234567"), (W{"a", " 1234567"}));
  EXPECT_EQ(split(PreTokenizer::kSmollm, "a 1234"), (W{"a", " ", "1", "2", "3", "4"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "a 1234567"), (W{"a", " ", "123", "456", "7"}));
  EXPECT_EQ(split(PreTokenizer::kQwen2, "a 123"), (W{"a", " ", "1", "2", "3"}));
  // default: the \p{N}+ pass after GPT-2's splits the space off again, then ASCII triples.
  EXPECT_EQ(split(PreTokenizer::kDefault, "a 1234567"), (W{"a", " ", "123", "456", "7"}));
  // Arabic-Indic digits are \p{N} but not [0-9].
  EXPECT_EQ(split(PreTokenizer::kLlama3, "\u0661\u0662\u0663\u0664"),
            (W{"\u0661\u0662\u0663", "\u0664"}));
  EXPECT_EQ(split(PreTokenizer::kDefault, "\u0661\u0662\u0663\u0664"),
            (W{"\u0661\u0662\u0663\u0664"}));
}

TEST(PreTokenizer, Contractions) {
  EXPECT_EQ(split(PreTokenizer::kGpt2, "I'M don't"), (W{"I", "'", "M", " don", "'t"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "I'M don't"), (W{"I", "'M", " don", "'t"}));
  EXPECT_EQ(split(PreTokenizer::kQwen2, "we'LL"), (W{"we", "'LL"}));
}

TEST(PreTokenizer, Whitespace) {
  // \s+(?!\S) leaves the last space to the next word.
  EXPECT_EQ(split(PreTokenizer::kGpt2, "a   b"), (W{"a", "  ", " b"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "a   "), (W{"a", "   "}));
  // Only a space (not any \s) may lead a letter run.
  EXPECT_EQ(split(PreTokenizer::kGpt2, "a\n\nb"), (W{"a", "\n", "\n", "b"}));
  // llama3: \s*[\r\n]+ takes whitespace up to the last newline; punctuation takes newlines.
  EXPECT_EQ(split(PreTokenizer::kLlama3, "a  \n\n b"), (W{"a", "  \n\n", " b"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "x.\n\ny"), (W{"x", ".\n\n", "y"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "x.\n\ny"), (W{"x", ".", "\n", "\n", "y"}));
  // Non-ASCII whitespace counts as \s.
  EXPECT_EQ(split(PreTokenizer::kGpt2, "a\u3000\u3000b"), (W{"a", "\u3000", "\u3000", "b"}));
}

TEST(PreTokenizer, LettersAndPunctuation) {
  EXPECT_EQ(split(PreTokenizer::kGpt2, "Hello, world!"), (W{"Hello", ",", " world", "!"}));
  // llama3 lets one non-letter, non-newline character lead a letter run.
  EXPECT_EQ(split(PreTokenizer::kLlama3, "(hello) $x"), (W{"(hello", ")", " $", "x"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "\"quoted\""), (W{"\"quoted", "\""}));
  // default: punctuation runs (with $+<=>^~|, without `) are split off first.
  EXPECT_EQ(split(PreTokenizer::kDefault, "a+=b `c`"), (W{"a", "+=", "b", " `", "c", "`"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "\u65e5\u672c \u8a9e"), (W{"\u65e5\u672c", " \u8a9e"}));
}

TEST(PreTokenizer, Gpt4o) {
  // Case runs: upper* lower+ first, else upper+ lower*; contractions attach case-insensitively.
  EXPECT_EQ(split(PreTokenizer::kGpt4o, "HelloWorld DON'T x"),
            (W{"Hello", "World", " DON'T", " x"}));
  // A non-ASCII letter counts as both upper and lower (llama.cpp's collapsed \p{L}): the regex
  // backtracks to end the word after the last one when no lower-case letter follows.
  EXPECT_EQ(split(PreTokenizer::kGpt4o, "\u00c9COLE \u00c5B"),
            (W{"\u00c9", "COLE", " \u00c5", "B"}));
  // Digits in threes; punctuation keeps trailing newlines and slashes.
  EXPECT_EQ(split(PreTokenizer::kGpt4o, "12345 a/b //\n"), (W{"123", "45", " a", "/b", " //\n"}));
}

TEST(PreTokenizer, EveryCodePointIsKept) {
  // Malformed UTF-8 decodes to U+FFFD; nothing is lost or duplicated whatever the type.
  const std::string text = "\xff\xfe a\x80 1\xe2\x82 '\xc3(\n\t\xf0\x9f\x98\x80 ";
  for (PreTokenizer t : {PreTokenizer::kDefault, PreTokenizer::kGpt2, PreTokenizer::kSmollm,
                         PreTokenizer::kLlama3, PreTokenizer::kQwen2, PreTokenizer::kGpt4o}) {
    std::string joined;
    for (const auto& w : split(t, text)) {
      EXPECT_FALSE(w.empty());
      joined += w;
    }
    std::vector<uint32_t> cps;
    unicode::decode_utf8(text, cps);
    std::string expect;
    for (uint32_t cp : cps) unicode::append_utf8(cp, expect);
    EXPECT_EQ(joined, expect);
  }
}

TEST(Unicode, Flags) {
  using namespace unicode;
  EXPECT_EQ(flags('a'), kLetter);
  EXPECT_EQ(flags('7'), kNumber);
  EXPECT_EQ(flags(' '), kSeparator | kWhitespace);
  EXPECT_EQ(flags('\n'), kControl | kWhitespace);
  EXPECT_EQ(flags(0x3000), kSeparator | kWhitespace);
  EXPECT_EQ(flags(0x0301), kMark);
  EXPECT_EQ(flags(0x00BD), kNumber);  // ½
  EXPECT_EQ(flags(0x4E00), kLetter);
  EXPECT_EQ(flags(0x1F600), kSymbol);
  EXPECT_EQ(flags(0x0378), kUndefined);
  EXPECT_EQ(flags(0x10FFFF), kUndefined);
  EXPECT_EQ(flags(0x110000), kUndefined);
  EXPECT_EQ(flags(0x31350), kLetter);  // CJK Extension H (Unicode 15.0), as in llama.cpp
  EXPECT_EQ(std::string(kUnicodeVersion), "15.1.0");
}

TEST(Unicode, LenientUtf8) {
  std::vector<uint32_t> cps;
  unicode::decode_utf8("\xc3\xa9\xc3(\x80\xed\xa0\x80\xc0\x80\xf7\xbf\xbf\xbf", cps);
  EXPECT_EQ(cps, (std::vector<uint32_t>{0xE9, 0xFFFD, '(', 0xFFFD, 0xD800, 0, 0x1FFFFF}));
  std::string out;
  unicode::append_utf8(0x1FFFFF, out);
  EXPECT_EQ(out, "\xef\xbf\xbd");
}

TEST(Unicode, ByteAlphabet) {
  EXPECT_EQ(unicode::byte_to_codepoint('!'), uint32_t('!'));
  EXPECT_EQ(unicode::byte_to_codepoint(' '), 0x120u);  // Ġ
  EXPECT_EQ(unicode::byte_to_codepoint('\n'), 0x10Au);  // Ċ
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(unicode::codepoint_to_byte(unicode::byte_to_codepoint(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(unicode::codepoint_to_byte(0x20), -1);
  EXPECT_EQ(unicode::codepoint_to_byte(0x5000), -1);
}

}  // namespace
}  // namespace nagare
