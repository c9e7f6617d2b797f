// SpecialSplitter against a direct transcription of llama.cpp's tokenizer_st_partition (each
// special token in turn, longest first, over every remaining raw fragment) on random vocabularies
// and texts built to overlap: equal-length specials, specials inside specials, texts past the
// 64-byte mask, control tokens that only split with parse_special.
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/special_split.h"
#include "tokenizer/vocab.h"

namespace nagare {
namespace {

std::vector<Fragment> reference_split(const Vocab& v, const std::string& text, bool parse_special) {
  std::list<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  for (int32_t id : v.special_order) {
    if (!parse_special && (v.attr[id] & (kAttrControl | kAttrUnknown))) continue;
    const std::string& t = v.text[id];
    for (auto it = frags.begin(); it != frags.end(); ++it) {
      if (it->token >= 0) continue;
      size_t begin = it->begin;
      const size_t end = it->end;
      const auto raw = it;
      bool split = false;
      while (true) {
        const size_t m = std::string_view(text.data(), end).find(t, begin);
        if (m == std::string::npos) break;
        split = true;
        if (m > begin) frags.insert(raw, {-1, begin, m});
        frags.insert(raw, {id, m, m + t.size()});
        begin = m + t.size();
        if (begin >= end) break;
      }
      if (!split) continue;
      if (begin < end) {
        raw->begin = begin;  // the rest stays raw and is searched by the next tokens
      } else {
        it = frags.erase(raw);
        --it;
      }
    }
  }
  return {frags.begin(), frags.end()};
}

Vocab random_vocab(std::mt19937& rng) {
  Vocab v;
  const std::string alphabet = "ab<>|";
  auto random_text = [&](size_t len) {
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  const int n = 4 + static_cast<int>(rng() % 20);
  for (int i = 0; i < n; ++i) {
    const size_t len = (rng() % 8 == 0) ? 60 + rng() % 12 : 1 + rng() % 5;  // some past 64
    v.text.push_back(random_text(len));
    const uint32_t kinds[] = {kAttrControl, kAttrUserDefined, kAttrNormal, kAttrUnknown};
    v.attr.push_back(kinds[rng() % 4]);
  }
  for (int32_t i = 0; i < n; ++i) {
    if (v.attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.special_order.push_back(i);
  }
  std::sort(v.special_order.begin(), v.special_order.end(),
            [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });
  return v;
}

TEST(SpecialSplit, MatchesLlamaCppPartition) {
  std::mt19937 rng(42);
  int compared = 0, with_tokens = 0;
  for (int round = 0; round < 300; ++round) {
    const Vocab v = random_vocab(rng);
    const SpecialSplitter splitter(v);
    for (int t = 0; t < 20; ++t) {
      // Text made of special texts and random bytes, so matches overlap and abut.
      std::string text;
      const int parts = static_cast<int>(rng() % 12);
      for (int k = 0; k < parts; ++k) {
        if (rng() % 2 && !v.text.empty()) {
          text += v.text[rng() % v.text.size()];
        } else {
          text.push_back("ab<>| "[rng() % 6]);
        }
      }
      for (bool parse_special : {false, true}) {
        std::vector<Fragment> got;
        splitter.split(text, parse_special, got);
        const auto expect = reference_split(v, text, parse_special);
        ASSERT_EQ(got.size(), expect.size()) << "text '" << text << "'";
        for (size_t k = 0; k < got.size(); ++k) {
          EXPECT_EQ(got[k].token, expect[k].token) << "text '" << text << "' fragment " << k;
          EXPECT_EQ(got[k].begin, expect[k].begin) << "text '" << text << "' fragment " << k;
          EXPECT_EQ(got[k].end, expect[k].end) << "text '" << text << "' fragment " << k;
          with_tokens += got[k].token >= 0;
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 12000);
  EXPECT_GT(with_tokens, 5000);
}

TEST(SpecialSplit, EmptyAndPlainText) {
  Vocab v;
  v.text = {"<s>", "hello"};
  v.attr = {kAttrControl, kAttrNormal};
  v.special_order = {0};
  const SpecialSplitter splitter(v);
  std::vector<Fragment> out;
  splitter.split("", true, out);
  EXPECT_TRUE(out.empty());
  splitter.split("hello", true, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].token, -1);
  EXPECT_EQ(out[0].end, 5u);
  splitter.split("a<s><s>", true, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].token, 0);
  EXPECT_EQ(out[2].token, 0);
  splitter.split("a<s><s>", false, out);  // control: not split without parse_special
  ASSERT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace nagare
