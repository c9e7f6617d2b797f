// StopMatcher: stop strings split across pushes, overlapping prefixes, several stops, a stop at
// the very start; the result must not depend on how the text is cut into pushes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/stop_matcher.h"

namespace nagare {
namespace {

struct StopRun {
  std::string text;     // everything emitted, including finish() when no stop matched
  bool stopped = false;
  int index = -1;
};

StopRun run_pieces(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  StopRun r;
  for (const std::string& p : pieces) {
    if (m.push(p, r.text)) break;
  }
  r.stopped = m.stopped();
  r.index = m.matched_index();
  if (!r.stopped) m.finish(r.text);
  return r;
}

std::vector<std::string> chars(const std::string& s) {
  std::vector<std::string> v;
  for (char c : s) v.emplace_back(1, c);
  return v;
}

// The text and outcome for `whole`, checked to be the same for every split into 1, 2 and 3
// pushes and for one byte at a time.
StopRun run_all_splits(const std::vector<std::string>& stops, const std::string& whole) {
  const StopRun ref = run_pieces(stops, {whole});
  for (size_t a = 0; a <= whole.size(); ++a) {
    for (size_t b = a; b <= whole.size(); ++b) {
      const StopRun r = run_pieces(stops, {whole.substr(0, a), whole.substr(a, b - a), whole.substr(b)});
      EXPECT_EQ(r.text, ref.text) << "split " << a << "," << b << " of '" << whole << "'";
      EXPECT_EQ(r.index, ref.index) << "split " << a << "," << b << " of '" << whole << "'";
    }
  }
  const StopRun r = run_pieces(stops, chars(whole));
  EXPECT_EQ(r.text, ref.text);
  EXPECT_EQ(r.index, ref.index);
  return ref;
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m;
  std::string out;
  EXPECT_FALSE(m.push("hello ", out));
  EXPECT_FALSE(m.push("world", out));
  EXPECT_EQ(out, "hello world");
  EXPECT_EQ(m.held(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopSplitAcrossPushesIsNeverEmitted) {
  StopMatcher m({"</s>"});
  std::string out;
  EXPECT_FALSE(m.push("Hello <", out));
  EXPECT_EQ(out, "Hello ");  // "<" might start the stop
  EXPECT_EQ(m.held(), "<");
  EXPECT_FALSE(m.push("/", out));
  EXPECT_EQ(out, "Hello ");
  EXPECT_TRUE(m.push("s> and more", out));
  EXPECT_EQ(out, "Hello ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched_index(), 0);
  EXPECT_EQ(m.matched_stop(), "</s>");
  EXPECT_TRUE(m.push("ignored", out));
  EXPECT_EQ(out, "Hello ");
}

TEST(StopMatcher, HeldTextIsReleasedWhenItStopsMatching) {
  StopMatcher m({"</s>"});
  std::string out;
  m.push("a </", out);
  EXPECT_EQ(out, "a ");
  m.push("b", out);
  EXPECT_EQ(out, "a </b");
  m.push("<", out);
  EXPECT_EQ(out, "a </b");
  m.finish(out);
  EXPECT_EQ(out, "a </b<");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopAtVeryStart) {
  const StopRun r = run_all_splits({"STOP"}, "STOP and the rest");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
}

TEST(StopMatcher, StopAtVeryEnd) {
  const StopRun r = run_all_splits({"\n\n"}, "line one\nline two\n\n");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "line one\nline two");
}

TEST(StopMatcher, OverlappingPrefixes) {
  // "aab" inside "aaab": the held "aa" must slide by one, not be dropped or over-held.
  StopRun r = run_all_splits({"aab"}, "xaaab!");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "xa");
  // A self-overlapping stop.
  r = run_all_splits({"abab"}, "abababx");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  r = run_all_splits({"abac"}, "ababac");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "ab");
  // Near-misses are emitted in full.
  r = run_all_splits({"abac"}, "ababab");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "ababab");
}

TEST(StopMatcher, MultipleStopsFirstToCompleteWins) {
  const std::vector<std::string> stops = {"World", "lo W", "xyz"};
  StopRun r = run_all_splits(stops, "Hello World");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.index, 1);  // "lo W" completes before "World"
  EXPECT_EQ(r.text, "Hel");
  r = run_all_splits(stops, "Hi World and xyz");
  EXPECT_EQ(r.index, 0);
  EXPECT_EQ(r.text, "Hi ");
  r = run_all_splits(stops, "xy xyz World");
  EXPECT_EQ(r.index, 2);
  EXPECT_EQ(r.text, "xy ");
}

TEST(StopMatcher, SameEndLongerStopWins) {
  // "b" and "ab" complete on the same byte: the one starting earlier wins, whatever the order.
  StopRun r = run_all_splits({"b", "ab"}, "xab");
  EXPECT_EQ(r.index, 1);
  EXPECT_EQ(r.text, "x");
  r = run_all_splits({"ab", "b"}, "xab");
  EXPECT_EQ(r.index, 0);
  EXPECT_EQ(r.text, "x");
}

TEST(StopMatcher, StopThatIsPrefixOfAnother) {
  // "ab" completes before "abc" can: stop at "ab".
  const StopRun r = run_all_splits({"abc", "ab"}, "zabc");
  EXPECT_EQ(r.index, 1);
  EXPECT_EQ(r.text, "z");
}

TEST(StopMatcher, MultiByteStopStrings) {
  // "。\n" and "ユーザー:" as stops: text held back never splits a character.
  const std::vector<std::string> stops = {"\xE3\x80\x82\n", "\xE3\x83\xA6\xE3\x83\xBC\xE3\x82\xB6\xE3\x83\xBC:"};
  const std::string text = "\xE3\x81\x93\xE3\x82\x93\xE3\x80\x81\xE3\x83\xA6\xE3\x83\xBC\xE3\x82\xB6\xE3\x83\xBC:";
  const StopRun r = run_all_splits(stops, text);
  EXPECT_EQ(r.index, 1);
  EXPECT_EQ(r.text, "\xE3\x81\x93\xE3\x82\x93\xE3\x80\x81");
  StopMatcher m(stops);
  std::string out;
  m.push("\xE3\x81\x82\xE3\x80\x82", out);  // "あ。": "。" may begin "。\n"
  EXPECT_EQ(out, "\xE3\x81\x82");
  m.push("x", out);
  EXPECT_EQ(out, "\xE3\x81\x82\xE3\x80\x82x");
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  const StopRun r = run_all_splits({"", "end"}, "the end");
  EXPECT_EQ(r.index, 1);
  EXPECT_EQ(r.text, "the ");
  const StopRun none = run_pieces({""}, {"abc"});
  EXPECT_FALSE(none.stopped);
  EXPECT_EQ(none.text, "abc");
}

TEST(StopMatcher, NoMatchFinishFlushesAll) {
  const StopRun r = run_all_splits({"STOP", "\nUser:"}, "a STO b \nUse");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "a STO b \nUse");
}

TEST(StopMatcher, ResetStartsOver) {
  StopMatcher m({"x"});
  std::string out;
  EXPECT_TRUE(m.push("abx", out));
  m.reset();
  out.clear();
  EXPECT_FALSE(m.push("ab", out));
  EXPECT_EQ(out, "ab");
}

}  // namespace
}  // namespace nagare
