// Block manager: allocation, reference counts, prefix reuse, LRU eviction, no leaks.
#include "engine/block_manager.h"

#include <set>

#include <gtest/gtest.h>

#include <numeric>

#include "model/kv_cache.h"
#include "model/model_config.h"

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

// Separate windows: 1 full-attention layer and 3 sliding-window layers of window 8, blocks of
// 4 tokens, 40 pages (one layer's block each).
ModelConfig windowed_config() {
  ModelConfig c;
  c.n_layer = 4;
  c.n_head = c.n_head_kv = 1;
  c.head_dim_k = c.head_dim_v = 4;
  c.sliding_window = 8;
  c.layer_uses_swa = {true, false, true, true};
  return c;
}

// Grows a sequence to n tokens a step of `step` tokens at a time, as the engine does: the
// blocks out of the window dropped, then the next tokens' blocks added and registered.
bool run_to(BlockManager& bm, BlockTables& t, std::span<const int32_t> tokens, int32_t n, int32_t step) {
  int32_t reg = 0;
  uint64_t h = 0;
  for (int32_t done = 0; done < n; done = std::min(n, done + step)) {
    bm.drop_outside_window(t, done);
    if (!bm.grow(t, std::min(n, done + step))) return false;
    bm.register_full_blocks(tokens, std::min(n, done + step), t, reg, h);
  }
  bm.drop_outside_window(t, n);
  return true;
}

TEST(BlockManagerWindows, ASequenceHoldsOnlyItsWindowAndTheFreedPagesServeEitherKind) {
  const ModelConfig c = windowed_config();
  auto kv = KvCache::with_separate_windows(c, 40, 4);
  BlockManager bm(*kv, false);
  auto tokens = seq_tokens(32);
  BlockTables a;
  ASSERT_TRUE(run_to(bm, a, tokens, 32, 4));
  // 8 full-attention blocks (8 pages); of the window's, those from position 32 - 8 + 1 = 25 on:
  // blocks 6 and 7 (3 pages each).
  EXPECT_EQ(a.table.size(), 8u);
  ASSERT_EQ(a.window.size(), 8u);
  EXPECT_EQ(a.window_first, 6);
  for (int32_t i = 0; i < 6; ++i) EXPECT_EQ(a.window[size_t(i)], -1);
  EXPECT_EQ(bm.pages_in_use(), 8 + 2 * 3);
  // Every position kept would take 32 pages; this one leaves 26 for the next sequence, which
  // needs 24 for 24 tokens at once (6 + 6 * 3).
  BlockTables b;
  EXPECT_TRUE(bm.grow(b, 24));
  EXPECT_EQ(bm.pages_in_use(), 14 + 24);
  EXPECT_FALSE(bm.grow(b, 28)) << "2 pages left cannot hold a block of each kind";
  // The pages of held blocks are distinct.
  std::set<int32_t> pages;
  auto add_pages = [&](const BlockTables& t) {
    for (int32_t id : t.table) pages.insert(kv->block_pages(0, id)[0]);
    for (int32_t id : t.window)
      if (id >= 0)
        for (int32_t l = 0; l < 3; ++l) pages.insert(kv->block_pages(1, id)[l]);
  };
  add_pages(a);
  add_pages(b);
  EXPECT_EQ(int64_t(pages.size()), bm.pages_in_use());
  EXPECT_GE(*pages.begin(), 0);
  EXPECT_LT(*pages.rbegin(), 40);
  bm.release(a);
  bm.release(b);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(bm.pages_in_use(), 0);
  EXPECT_EQ(bm.pages_available(), 40);
}

TEST(BlockManagerWindows, APrefixCountsWhereTheBlocksOfItsWindowAreCached) {
  const ModelConfig c = windowed_config();
  auto kv = KvCache::with_separate_windows(c, 40, 4);
  BlockManager bm(*kv, true);
  auto tokens = seq_tokens(40);
  BlockTables a;
  ASSERT_TRUE(run_to(bm, a, tokens, 40, 4));
  EXPECT_EQ(a.window_first, 8);  // blocks 0-7 dropped: cached, not freed
  const std::vector<int32_t> last_window(a.window.begin() + 8, a.window.end());
  bm.release(a);
  EXPECT_EQ(bm.pages_in_use(), 0);
  EXPECT_EQ(bm.pages_available(), 40);

  // Fresh blocks take the pages of the least recently dropped first: 3 full blocks and 3
  // window blocks (12 pages) evict the window blocks 0-3 (3 pages each).
  BlockTables other;
  ASSERT_TRUE(bm.grow(other, 12));
  // The first 20 tokens: position 20 attends to window blocks 3 and 4, and every shorter
  // prefix's next position to one of blocks 0-3, all gone: nothing is reused.
  std::vector<int32_t> head(tokens.begin(), tokens.begin() + 20);
  head.push_back(7);
  BlockTables b;
  EXPECT_EQ(bm.match_prefix(head, 20, b), 0);
  EXPECT_TRUE(b.empty());
  // All 40 tokens: the window blocks their next position attends to (8 and 9) are cached.
  auto longer = tokens;
  longer.push_back(7);
  BlockTables d;
  EXPECT_EQ(bm.match_prefix(longer, 40, d), 40);
  EXPECT_EQ(d.table.size(), 10u);
  EXPECT_EQ(d.window_first, 8);
  EXPECT_EQ(std::vector<int32_t>(d.window.begin() + 8, d.window.end()), last_window);
  for (int32_t i = 0; i < 8; ++i) EXPECT_EQ(d.window[size_t(i)], -1);
  // 28 tokens: blocks 5 and 6 are cached (dropped after 0-3): reused in full.
  BlockTables e;
  EXPECT_EQ(bm.match_prefix(longer, 28, e), 28);
  EXPECT_EQ(e.window_first, 5);
  bm.release(other);
  bm.release(d);
  bm.release(e);
  EXPECT_EQ(bm.pages_in_use(), 0);
  EXPECT_EQ(bm.pages_available(), 40);
}

TEST(BlockManagerWindows, RandomWorkloadNeverLeaksOrSharesAPage) {
  const ModelConfig c = windowed_config();
  auto kv = KvCache::with_separate_windows(c, 96, 4);
  BlockManager bm(*kv, true);
  struct Seq {
    BlockTables t;
    std::vector<int32_t> tokens;
    int32_t done = 0, reg = 0;
    uint64_t h = 0;
  };
  std::vector<Seq> seqs(6);
  uint64_t state = 777;
  auto rnd = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL, uint32_t(state >> 33); };
  for (int iter = 0; iter < 4000; ++iter) {
    Seq& s = seqs[rnd() % seqs.size()];
    if (rnd() % 5 == 0) {
      bm.release(s.t);
      s = Seq{};
    } else {
      if (s.t.empty()) {
        s = Seq{};
        s.tokens.resize(rnd() % 48 + 2);
        for (auto& x : s.tokens) x = int32_t(rnd() % 2);  // few distinct tokens: many prefix hits
        s.done = bm.match_prefix(s.tokens, int32_t(s.tokens.size()) - 1, s.t);
      }
      const int32_t n = std::min<int32_t>(int32_t(s.tokens.size()), s.done + int32_t(rnd() % 9 + 1));
      bm.drop_outside_window(s.t, s.done);
      if (bm.grow(s.t, n)) {
        bm.register_full_blocks(s.tokens, n, s.t, s.reg, s.h);
        s.done = n;
      }
    }
    // Held blocks: each once per table, pages distinct and in range, the window from
    // window_first on held up to the computed positions' window.
    std::set<int32_t> pages;
    std::set<int32_t> held;
    for (const Seq& q : seqs) {
      for (int32_t id : q.t.table) held.insert(id);
      for (size_t i = 0; i < q.t.window.size(); ++i) {
        ASSERT_EQ(q.t.window[i] < 0, int32_t(i) < q.t.window_first);
        if (q.t.window[i] >= 0) held.insert(q.t.window[i]);
      }
    }
    int64_t held_pages = 0;
    for (int32_t id : held) {
      const int kind = id >= kv->first_block(1) ? 1 : 0;
      for (int32_t l = 0; l < kv->kind_layers(kind); ++l) {
        const int32_t p = kv->block_pages(kind, id)[l];
        ASSERT_GE(p, 0);
        ASSERT_LT(p, 96);
        ASSERT_TRUE(pages.insert(p).second) << "page " << p << " held twice";
      }
      held_pages += kv->kind_layers(kind);
    }
    ASSERT_EQ(bm.pages_in_use(), held_pages);
    ASSERT_EQ(bm.pages_in_use() + bm.pages_available(), 96);
  }
  for (auto& s : seqs) bm.release(s.t);
  EXPECT_EQ(bm.pages_in_use(), 0);
  EXPECT_EQ(bm.pages_available(), 96);
}

}  // namespace
}  // namespace nagare
