// Utf8Stream: every split of multi-byte text gives back the same text, invalid bytes become
// U+FFFD exactly as Python's bytes.decode("utf-8", errors="replace") does, nothing stalls.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/utf8_stream.h"

namespace nagare {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string stream_in_pieces(const std::string& bytes, const std::vector<size_t>& cuts) {
  Utf8Stream s;
  std::string out;
  size_t prev = 0;
  for (size_t c : cuts) {
    s.push(std::string_view(bytes).substr(prev, c - prev), out);
    prev = c;
  }
  s.push(std::string_view(bytes).substr(prev), out);
  s.finish(out);
  return out;
}

// Valid UTF-8 only: a prefix of whole characters is all that may be emitted before finish().
void expect_never_half_char(const std::string& bytes) {
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    Utf8Stream s;
    const std::string first = s.push(std::string_view(bytes).substr(0, cut));
    // What was emitted is the longest prefix ending on a character boundary.
    size_t boundary = cut;
    while (boundary > 0 && boundary < bytes.size() &&
           (static_cast<uint8_t>(bytes[boundary]) & 0xC0) == 0x80)
      --boundary;
    EXPECT_EQ(first, bytes.substr(0, boundary)) << "cut at " << cut;
    EXPECT_EQ(s.has_pending(), boundary != cut) << "cut at " << cut;
    const std::string second = s.push(std::string_view(bytes).substr(cut));
    EXPECT_EQ(first + second, bytes) << "cut at " << cut;
    EXPECT_EQ(s.finish(), "");
  }
}

TEST(Utf8Stream, AsciiPassesThrough) {
  Utf8Stream s;
  EXPECT_EQ(s.push("hello"), "hello");
  EXPECT_EQ(s.push(""), "");
  EXPECT_EQ(s.push(" world\n"), " world\n");
  EXPECT_FALSE(s.has_pending());
  EXPECT_EQ(s.finish(), "");
}

TEST(Utf8Stream, EverySplitOfJapaneseEmojiAndFourByte) {
  // 2-byte (é, ß), 3-byte (日本語, ー), 4-byte (😀, 𝄞, 𠮷), emoji ZWJ sequence and flag.
  const std::vector<std::string> texts = {
      "caf\xC3\xA9 \xC3\x9F",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x83\xBC",
      "\xF0\x9F\x98\x80",
      "a\xF0\x9D\x84\x9E" "b\xF0\xA0\xAE\xB7" "c",
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
      "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 \xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF",
      "\xF4\x8F\xBF\xBF\xEE\x80\x80",  // U+10FFFF, U+E000
  };
  for (const std::string& t : texts) expect_never_half_char(t);
}

TEST(Utf8Stream, ByteByByteAndAllTwoCutSplitsMatchWhole) {
  const std::string t = "x\xE6\x97\xA5\xF0\x9F\x98\x80\xC3\xA9y";
  for (size_t a = 0; a <= t.size(); ++a)
    for (size_t b = a; b <= t.size(); ++b) EXPECT_EQ(stream_in_pieces(t, {a, b}), t);
  std::vector<size_t> every;
  for (size_t i = 1; i < t.size(); ++i) every.push_back(i);
  EXPECT_EQ(stream_in_pieces(t, every), t);
}

// Expected strings are what Python's bytes.decode("utf-8", errors="replace") returns.
struct InvalidCase {
  std::string bytes;
  std::string expected;
};

std::vector<InvalidCase> invalid_cases() {
  const std::string R = kFffd;
  return {
      {"a\x80" "b", "a" + R + "b"},                         // stray continuation
      {"\xFF\xFE", R + R},                                   // never valid bytes
      {"\xC0\xAF", R + R},                                   // overlong lead
      {"\xC1\xBF", R + R},
      {"\xE0\x80\xAF", R + R + R},                           // overlong 3-byte: E0 needs A0..BF
      {"\xED\xA0\x80", R + R + R},                           // surrogate U+D800
      {"\xF0\x80\x80\xAF", R + R + R + R},                   // overlong 4-byte
      {"\xF4\x90\x80\x80", R + R + R + R},                   // beyond U+10FFFF
      {"\xF5\x80", R + R},
      {"\xE6\x97" "a", R + "a"},                             // truncated then ASCII: one FFFD
      {"\xF0\x9F\x98" "\xE6\x97\xA5", R + "\xE6\x97\xA5"},   // truncated 4-byte then valid
      {"\xE6\x97\xE6\x97\xA5", R + "\xE6\x97\xA5"},
      {"\xC3" "\xC3\xA9", R + "\xC3\xA9"},
      {"ok\xE6\x97", "ok" + R},                              // incomplete at end: finish()
      {"\xF0\x9F", R},
      {"\xF0", R},
  };
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementOnEverySplit) {
  for (const InvalidCase& c : invalid_cases()) {
    EXPECT_EQ(stream_in_pieces(c.bytes, {}), c.expected);
    for (size_t cut = 0; cut <= c.bytes.size(); ++cut)
      EXPECT_EQ(stream_in_pieces(c.bytes, {cut}), c.expected) << "cut at " << cut;
    std::vector<size_t> every;
    for (size_t i = 1; i < c.bytes.size(); ++i) every.push_back(i);
    EXPECT_EQ(stream_in_pieces(c.bytes, every), c.expected);
  }
}

TEST(Utf8Stream, InvalidByteInMiddleDoesNotStall) {
  Utf8Stream s;
  // The truncated character is replaced as soon as the next byte shows it cannot complete.
  EXPECT_EQ(s.push("\xE6\x97"), "");
  EXPECT_TRUE(s.has_pending());
  EXPECT_EQ(s.push("x"), kFffd + "x");
  EXPECT_FALSE(s.has_pending());
  EXPECT_EQ(s.push("\x80\x80"), kFffd + kFffd);
}

TEST(Utf8Stream, FinishFlushesIncompleteAndResets) {
  Utf8Stream s;
  EXPECT_EQ(s.push("\xF0\x9F\x98"), "");
  EXPECT_EQ(s.finish(), kFffd);
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(s.push("\xF0\x9F"), "");
  s.reset();
  EXPECT_FALSE(s.has_pending());
  EXPECT_EQ(s.push("\xC3\xA9"), "\xC3\xA9");
}

TEST(Utf8Stream, AppendsToCallerBuffer) {
  Utf8Stream s;
  std::string out = "pre:";
  s.push("\xE3\x81", out);
  EXPECT_EQ(out, "pre:");
  s.push("\x82", out);
  EXPECT_EQ(out, "pre:\xE3\x81\x82");
}

}  // namespace
}  // namespace nagare
