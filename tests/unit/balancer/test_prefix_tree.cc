#include <gtest/gtest.h>

#include <random>
#include <string>

#include "balancer/prefix_tree.h"

namespace nagare {
namespace {

TEST(PrefixTree, EachWorkerIsCreditedWithItsLongestPrefix) {
  PrefixTree t(1 << 20);
  t.insert("system: pirate\x1euser: hi", 0);
  t.insert("system: pirate\x1euser: bye", 1);
  t.insert("system: robot\x1euser: hi", 2);
  auto m = t.match("system: pirate\x1euser: hello");
  EXPECT_EQ(m[0], std::string("system: pirate\x1euser: h").size());
  EXPECT_EQ(m[1], std::string("system: pirate\x1euser: ").size());
  EXPECT_EQ(m[2], std::string("system: ").size());
  // A text that is a prefix of what was sent matches whole.
  m = t.match("system: pir");
  EXPECT_EQ(m[0], 11u);
  EXPECT_EQ(m[1], 11u);
  EXPECT_TRUE(t.match("other").count(0) && t.match("other")[0] == 0);
}

TEST(PrefixTree, CountsEveryByteOnceAndForgetsARemovedWorker) {
  PrefixTree t(1 << 20);
  t.insert("abcdef", 0);
  t.insert("abcxyz", 1);
  t.insert("abcdef", 1);
  EXPECT_EQ(t.chars(), std::string("abc").size() + 3 + 3);
  t.remove_worker(0);
  EXPECT_EQ(t.match("abcdef")[1], 6u);
  EXPECT_FALSE(t.match("abcdef").count(0));
  t.remove_worker(1);
  EXPECT_EQ(t.chars(), 0u);
  EXPECT_EQ(t.nodes(), 1u);  // the root
}

TEST(PrefixTree, StaysWithinItsBoundDroppingTheOldestFirst) {
  const size_t bound = 4096;
  PrefixTree t(bound);
  std::mt19937 rng(7);
  std::string recent;
  for (int i = 0; i < 2000; ++i) {
    std::string s = "tenant" + std::to_string(i % 50) + ":";
    for (int k = 0; k < 40; ++k) s += char('a' + rng() % 26);
    t.insert(s, i % 3);
    ASSERT_LE(t.chars(), bound);
    recent = s;
  }
  // The newest insert survives eviction whole.
  EXPECT_EQ(t.match(recent)[1999 % 3], recent.size());
}

}  // namespace
}  // namespace nagare
