// Block manager: allocation, reference counts, prefix reuse, LRU eviction, no leaks.
#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <numeric>

namespace nagare {
namespace {

std::vector<int32_t> seq_tokens(int32_t n, int32_t start = 100) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), start);
  return t;
}

TEST(BlockManager, GrowAndReleaseReturnEveryBlock) {
  BlockManager bm(8, 4, false);
  std::vector<int32_t> a, b;
  ASSERT_TRUE(bm.grow(a, 9));  // 3 blocks
  EXPECT_EQ(a.size(), 3u);
  ASSERT_TRUE(bm.grow(b, 20));  // 5 blocks
  EXPECT_EQ(bm.blocks_in_use(), 8);
  std::vector<int32_t> c;
  EXPECT_FALSE(bm.grow(c, 1));
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(bm.grow(a, 13)) << "a 4th block for a must fail when none are free";
  EXPECT_EQ(a.size(), 3u);
  bm.release(a);
  bm.release(b);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(bm.blocks_in_use(), 0);
  EXPECT_EQ(bm.blocks_available(), 8);
}

TEST(BlockManager, PrefixIsReusedOnlyForWholeMatchingBlocks) {
  BlockManager bm(16, 4, true);
  auto tokens = seq_tokens(10);
  std::vector<int32_t> a;
  ASSERT_TRUE(bm.grow(a, 10));
  int32_t reg = 0;
  uint64_t h = 0;
  bm.register_full_blocks(tokens, 10, a, reg, h);
  EXPECT_EQ(reg, 2);  // two full blocks of 4; the third is partial

  // Same first 8 tokens, different afterwards: both full blocks are shared.
  auto other = tokens;
  other[9] = 7;
  std::vector<int32_t> b;
  EXPECT_EQ(bm.match_prefix(other, int32_t(other.size()), b), 8);
  EXPECT_EQ(b, std::vector<int32_t>(a.begin(), a.begin() + 2));
  EXPECT_EQ(bm.blocks_in_use(), 3);

  // A difference inside the second block stops the match after the first.
  auto diverge = tokens;
  diverge[5] = -5;
  std::vector<int32_t> c;
  EXPECT_EQ(bm.match_prefix(diverge, 10, c), 4);
  // max_tokens caps the match to whole blocks below it.
  std::vector<int32_t> d;
  EXPECT_EQ(bm.match_prefix(tokens, 7, d), 4);
  // A different first block shares nothing, even if later blocks are equal.
  auto shifted = tokens;
  shifted[0] = 1;
  std::vector<int32_t> e;
  EXPECT_EQ(bm.match_prefix(shifted, 10, e), 0);

  bm.release(a);
  bm.release(b);
  bm.release(c);
  bm.release(d);
  bm.release(e);
  EXPECT_EQ(bm.blocks_in_use(), 0);
  EXPECT_EQ(bm.blocks_cached(), 2);
  EXPECT_EQ(bm.blocks_available(), 16);
}

TEST(BlockManager, CachedBlocksSurviveReleaseAndAreEvictedLeastRecentlyUsedFirst) {
  BlockManager bm(4, 2, true);
  auto t1 = seq_tokens(4, 0), t2 = seq_tokens(4, 50);
  std::vector<int32_t> a, b;
  int32_t ra = 0, rb = 0;
  uint64_t ha = 0, hb = 0;
  ASSERT_TRUE(bm.grow(a, 4));
  bm.register_full_blocks(t1, 4, a, ra, ha);
  bm.release(a);  // t1's blocks: cached
  ASSERT_TRUE(bm.grow(b, 4));
  bm.register_full_blocks(t2, 4, b, rb, hb);
  bm.release(b);  // t2's blocks: cached, more recent
  EXPECT_EQ(bm.blocks_cached(), 4);

  // Touch t1 again so t2 becomes least recently used.
  std::vector<int32_t> hit;
  EXPECT_EQ(bm.match_prefix(t1, 4, hit), 4);
  bm.release(hit);

  // Two fresh blocks must evict t2's (LRU), leaving t1 reusable.
  std::vector<int32_t> fresh;
  ASSERT_TRUE(bm.grow(fresh, 4));
  std::vector<int32_t> again1, again2;
  EXPECT_EQ(bm.match_prefix(t1, 4, again1), 4);
  EXPECT_EQ(bm.match_prefix(t2, 4, again2), 0);
  bm.release(fresh);
  bm.release(again1);
  EXPECT_EQ(bm.blocks_in_use(), 0);
}

TEST(BlockManager, ChainHashDependsOnParentAndEveryToken) {
  std::vector<int32_t> t = {1, 2, 3, 4};
  const uint64_t h = BlockManager::chain_hash(0, t);
  EXPECT_NE(h, BlockManager::chain_hash(h, t));
  for (size_t i = 0; i < t.size(); ++i) {
    auto u = t;
    u[i]++;
    EXPECT_NE(h, BlockManager::chain_hash(0, u));
  }
}

TEST(BlockManager, RandomWorkloadNeverLeaks) {
  BlockManager bm(64, 4, true);
  std::vector<std::vector<int32_t>> tables(8);
  uint64_t state = 12345;
  auto rnd = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL, uint32_t(state >> 33); };
  for (int iter = 0; iter < 5000; ++iter) {
    auto& t = tables[rnd() % tables.size()];
    if (rnd() % 3 == 0) {
      bm.release(t);
    } else if (t.empty()) {
      std::vector<int32_t> toks(rnd() % 24 + 1);
      for (auto& x : toks) x = int32_t(rnd() % 3);  // few distinct tokens: many prefix hits
      int32_t n = bm.match_prefix(toks, int32_t(toks.size()) - 1, t);
      if (!bm.grow(t, int32_t(toks.size()))) { bm.release(t); continue; }
      int32_t reg = 0;
      uint64_t h = 0;
      bm.register_full_blocks(toks, int32_t(toks.size()), t, reg, h);
      EXPECT_GE(n, 0);
    }
    int32_t referenced = 0;
    std::vector<int> seen(64, 0);
    for (auto& tb : tables) for (int32_t b : tb) seen[b] = 1;
    for (int s : seen) referenced += s;
    ASSERT_EQ(bm.blocks_in_use(), referenced);
    ASSERT_EQ(bm.blocks_in_use() + bm.blocks_available(), 64);
  }
  for (auto& t : tables) bm.release(t);
  EXPECT_EQ(bm.blocks_in_use(), 0);
}

}  // namespace
}  // namespace nagare
