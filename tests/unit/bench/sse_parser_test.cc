// The SSE parser must give the same events however the bytes are split (curl delivers arbitrary
// pieces), and follow the event-stream rules: CRLF/CR/LF, comments, multi-line data, BOM.
#include "bench/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nagare::bench {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& stream, const std::vector<size_t>& cuts, bool finish = true) {
  std::vector<SseEvent> out;
  SseParser p([&](const SseEvent& e) { out.push_back(e); });
  size_t prev = 0;
  for (size_t c : cuts) {
    p.feed(std::string_view(stream).substr(prev, c - prev));
    prev = c;
  }
  p.feed(std::string_view(stream).substr(prev));
  if (finish) p.finish();
  return out;
}

void expect_same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b, const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].data, b[i].data) << where << " event " << i;
    EXPECT_EQ(a[i].event, b[i].event) << where << " event " << i;
    EXPECT_EQ(a[i].id, b[i].id) << where << " event " << i;
  }
}

const std::string kStream =
    "\xEF\xBB\xBF"
    ": keep-alive comment\r\n"
    "data: {\"a\":1}\r\n\r\n"
    "event: update\nid: 7\ndata: line one\ndata: line two\n\n"
    "data:no-space\r\r"
    "data: \n\n"                   // an empty data field is still an event
    "retry: 100\nunknown: x\n\n"   // no data: dispatches nothing
    "data: [DONE]\n\n";

TEST(SseParser, WholeStream) {
  auto ev = parse_in_pieces(kStream, {});
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[1].event, "update");
  EXPECT_EQ(ev[1].id, "7");
  EXPECT_EQ(ev[1].data, "line one\nline two");
  EXPECT_EQ(ev[2].data, "no-space");
  EXPECT_EQ(ev[2].event, "");  // event type resets after each dispatch
  EXPECT_EQ(ev[3].data, "");
  EXPECT_EQ(ev[4].data, "[DONE]");
}

TEST(SseParser, EverySingleSplitGivesTheSameEvents) {
  auto whole = parse_in_pieces(kStream, {});
  for (size_t cut = 0; cut <= kStream.size(); ++cut) expect_same(whole, parse_in_pieces(kStream, {cut}), "cut " + std::to_string(cut));
}

TEST(SseParser, ByteAtATimeAndEveryPairOfSplits) {
  auto whole = parse_in_pieces(kStream, {});
  std::vector<size_t> all;
  for (size_t i = 1; i < kStream.size(); ++i) all.push_back(i);
  expect_same(whole, parse_in_pieces(kStream, all), "byte at a time");
  for (size_t a = 0; a <= kStream.size(); a += 3)
    for (size_t b = a; b <= kStream.size(); b += 5) expect_same(whole, parse_in_pieces(kStream, {a, b}), "cuts");
}

TEST(SseParser, SplitCrLfIsOneLineEnd) {
  // "\r" ends one feed and "\n" starts the next: one line end, not an extra blank line that
  // would dispatch "data: a" before "data: b" joins it.
  std::vector<SseEvent> out;
  SseParser p([&](const SseEvent& e) { out.push_back(e); });
  p.feed("data: a\r");
  p.feed("\ndata: b\r");
  p.feed("\n\r");
  p.feed("\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "a\nb");
}

TEST(SseParser, FinishDeliversAnUnterminatedLastEvent) {
  auto ev = parse_in_pieces("data: x\n\ndata: [DONE]", {});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].data, "[DONE]");
  auto no_finish = parse_in_pieces("data: x\n\ndata: [DONE]", {}, false);
  EXPECT_EQ(no_finish.size(), 1u);
}

TEST(SseParser, NonSseBodyGivesLinesButNoEvents) {
  SseParser p([](const SseEvent&) { FAIL() << "no event expected"; });
  p.feed("<html>\n<body>Internal Server Error</body>\n</html>\n");
  p.finish();
  EXPECT_EQ(p.events_seen(), 0u);
  EXPECT_EQ(p.lines_seen(), 3u);
}

TEST(SseParser, ShortStreamsAndBomAlone) {
  EXPECT_TRUE(parse_in_pieces("", {}).empty());
  EXPECT_TRUE(parse_in_pieces("\xEF\xBB", {}).empty());
  auto ev = parse_in_pieces("\xEF\xBB\xBF" "data: z\n\n", {1, 2});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "z");
  // Bytes that only look like a BOM's start are data.
  auto ev2 = parse_in_pieces("\xEF" "data: q\n\n", {});
  EXPECT_TRUE(ev2.empty());  // "\xEF" "data" is an unknown field name
}

}  // namespace
}  // namespace nagare::bench
