// Token ids, pieces and detokenized text against llama.cpp's (tests/golden/tokenizer/*.json,
// made by scripts/golden/tokenizer.py) for both test models and the tiny BERT's WordPiece vocabulary.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace nagare {
namespace {

using test::from_hex;
using test::printable;

struct GoldenCase {
  const char* name;  // golden file stem
  const char* model;
  std::vector<test::Override> overrides;  // as in scripts/golden/tokenizer.py's VARIANTS
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

class TokenizerGolden : public ::testing::TestWithParam<GoldenCase> {
 protected:
  void SetUp() override {
    const GoldenCase& p = GetParam();
    tok_ = p.overrides.empty() ? test::load_tokenizer(p.model)
                               : test::load_variant(p.model, p.overrides);
    const std::string path =
        std::string(NAGARE_SOURCE_DIR) + "/tests/golden/tokenizer/" + p.name + ".json";
    std::ifstream in(path);
    ASSERT_TRUE(in) << "missing golden file " << path;
    golden_ = nlohmann::json::parse(in);
  }
  std::shared_ptr<const Tokenizer> tok_;
  nlohmann::json golden_;
};

TEST_P(TokenizerGolden, VocabFacts) {
  EXPECT_EQ(tok_->vocab_size(), golden_["vocab_size"].get<int>());
  EXPECT_EQ(tok_->bos_id(), golden_["bos_id"].get<int>());
  EXPECT_EQ(tok_->eos_id(), golden_["eos_id"].get<int>());
  EXPECT_EQ(tok_->add_bos(), golden_["add_bos"].get<bool>());
  EXPECT_EQ(tok_->add_eos(), golden_["add_eos"].get<bool>());
  std::set<int> eog = golden_["eog_ids"].get<std::set<int>>();
  for (int32_t id = 0; id < tok_->vocab_size(); ++id) {
    EXPECT_EQ(tok_->is_end_of_generation(id), eog.count(id) == 1) << "id " << id;
  }
  EXPECT_FALSE(tok_->is_end_of_generation(-1));
  EXPECT_FALSE(tok_->is_end_of_generation(tok_->vocab_size()));
}

TEST_P(TokenizerGolden, EncodeMatchesLlamaCpp) {
  int n = 0;
  for (const auto& c : golden_["cases"]) {
    const std::string text = from_hex(c["text_hex"]);
    const bool add_special = c["add_special"], parse_special = c["parse_special"];
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    const auto got = tok_->encode(text, add_special, parse_special);
    EXPECT_EQ(got, expected) << "text '" << printable(text) << "' add_special=" << add_special
                             << " parse_special=" << parse_special;
    ++n;
  }
  EXPECT_GT(n, 200);
}

TEST_P(TokenizerGolden, DecodeMatchesLlamaCpp) {
  for (const auto& c : golden_["cases"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(printable(tok_->decode(ids, false)), printable(from_hex(c["decode_hex"])))
        << "text '" << printable(from_hex(c["text_hex"])) << "'";
    EXPECT_EQ(printable(tok_->decode(ids, true)), printable(from_hex(c["decode_special_hex"])))
        << "text '" << printable(from_hex(c["text_hex"])) << "'";
  }
}

TEST_P(TokenizerGolden, PiecesMatchLlamaCpp) {
  int n = 0;
  for (const auto& [key, pair] : golden_["pieces"].items()) {
    const int32_t id = std::stoi(key);
    EXPECT_EQ(printable(tok_->token_to_piece(id, false)), printable(from_hex(pair[0])))
        << "id " << id << " '" << tok_->token_text(id) << "'";
    EXPECT_EQ(printable(tok_->token_to_piece(id, true)), printable(from_hex(pair[1])))
        << "id " << id << " '" << tok_->token_text(id) << "'";
    ++n;
  }
  // Variants share their base model's pieces; only base goldens list them.
  // (The tiny BERT's vocabulary has 7k tokens, so fewer of them.)
  if (GetParam().overrides.empty()) {
    EXPECT_GT(n, std::min(1000, tok_->vocab_size() / 12));
  }
  EXPECT_EQ(tok_->token_to_piece(-1, true), "");
  EXPECT_EQ(tok_->token_to_piece(tok_->vocab_size(), true), "");
}

const char kPre[] = "tokenizer.ggml.pre";

INSTANTIATE_TEST_SUITE_P(
    Models, TokenizerGolden,
    ::testing::Values(
        GoldenCase{"smollm2", test::kSmollm, {}},
        GoldenCase{"gemma3", test::kGemma, {}},
        GoldenCase{"smollm2-llama-bpe", test::kSmollm, {{kPre, std::string("llama-bpe")}}},
        GoldenCase{"smollm2-qwen2", test::kSmollm, {{kPre, std::string("qwen2")}}},
        GoldenCase{"smollm2-gpt-2", test::kSmollm, {{kPre, std::string("gpt-2")}}},
        GoldenCase{"smollm2-default", test::kSmollm, {{kPre, std::string("default")}}},
        GoldenCase{"smollm2-gpt-4o", test::kSmollm, {{kPre, std::string("gpt-4o")}}},
        GoldenCase{"gemma3-space-prefix", test::kGemma,
                   {{"tokenizer.ggml.add_space_prefix", true}}},
        GoldenCase{"bert", test::kTinyBert, {}},
        GoldenCase{"bert-cased", test::kTinyBert, {{"tokenizer.ggml.normalizer.lowercase", false}}}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace nagare
