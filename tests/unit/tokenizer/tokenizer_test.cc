// Tokenizer behaviour beyond the golden ids: round trips, malformed input, special tokens,
// unsupported vocabularies. (Encode speed is a benchmark, not a test: bench/tokenizer_encode.cc.)
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"
#include "util/error.h"

namespace nagare {
namespace {

using test::from_hex;
using test::printable;

// The distinct corpus texts of the golden file (valid and malformed UTF-8, the long text last).
std::vector<std::string> corpus() {
  std::ifstream in(std::string(NAGARE_SOURCE_DIR) + "/tests/golden/tokenizer/smollm2.json");
  EXPECT_TRUE(in);
  const auto golden = nlohmann::json::parse(in);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& c : golden["cases"]) {
    std::string t = from_hex(c["text_hex"]);
    if (seen.insert(t).second) out.push_back(std::move(t));
  }
  return out;
}

// What byte-level BPE can give back: malformed UTF-8 sequences become U+FFFD (as in llama.cpp).
std::string bpe_normalized(const std::string& s) {
  std::vector<uint32_t> cps;
  unicode::decode_utf8(s, cps);
  std::string out;
  for (uint32_t cp : cps) unicode::append_utf8(cp, out);
  return out;
}

void check_ids_in_range(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    ASSERT_GE(id, 0);
    ASSERT_LT(id, tok.vocab_size());
  }
}

// SPM writes spaces as U+2581, so a U+2581 in the input comes back as a space; and a malformed
// UTF-8 lead byte swallows the bytes after it into one symbol, which can cut an escaped space
// into byte tokens that come back as the bytes of U+2581. Comparing both sides with every U+2581
// turned into a space accounts for both (occurrences of U+2581 cannot overlap).
std::string spm_normalized(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
      out.push_back(' ');
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// decode(encode(x)) == x for both models on the whole corpus, except (all as in llama.cpp):
// byte-level BPE turns malformed UTF-8 into U+FFFD; SPM and U+2581, as above. Not checked
// here because they do not round-trip: SPM vocabs with add_space_prefix (not these two) add a
// space after every special or user-defined token; vocabs with clean_spaces (gpt-2, llama-bpe,
// default) drop the space in " ." and " 's".
TEST(Tokenizer, RoundTrip) {
  const auto smollm = test::load_tokenizer(test::kSmollm);
  const auto gemma = test::load_tokenizer(test::kGemma);
  int n = 0;
  for (const std::string& text : corpus()) {
    for (const Tokenizer* tok : {smollm.get(), gemma.get()}) {
      const bool bpe = tok->vocab().kind == Vocab::Kind::kBpe;
      auto norm = [&](const std::string& s) { return bpe ? s : spm_normalized(s); };
      const std::string expect = bpe ? bpe_normalized(text) : spm_normalized(text);
      // As text: control-token texts stay text; user-defined ones become their tokens.
      EXPECT_EQ(printable(norm(tok->decode(tok->encode(text, false, false), false))),
                printable(expect));
      // Specials parsed, and rendered back.
      EXPECT_EQ(printable(norm(tok->decode(tok->encode(text, false, true), true))),
                printable(expect));
      ++n;
    }
  }
  EXPECT_GT(n, 120);
}

TEST(Tokenizer, MalformedInputNeverCrashes) {
  const auto smollm = test::load_tokenizer(test::kSmollm);
  const auto gemma = test::load_tokenizer(test::kGemma);
  // Bytes chosen to hit every UTF-8 error path (bad leads, truncated sequences, overlongs,
  // surrogates, values past U+10FFFF) and partial special-token texts.
  const std::vector<std::string> atoms = {
      "\x80", "\xbf", "\xc0", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf0\x9f", "\xf4\x90\x80\x80",
      "\xf7\xbf\xbf\xbf", "\xf8", "\xff", "\xfe", "\x00", " ", "  ", "\n", "\t", "a", "Z", "7",
      "'s", "\xe2\x96\x81", "<|im_", "start|>", "<start_of_turn>", "<0x41>", "\xf0\x9f\x98\x80",
      "\xe6\x97\xa5", "<", "|", ">", "<bos>", "</s>"};
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 400; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) text += atoms[rng() % atoms.size()];
    for (int flags = 0; flags < 4; ++flags) {
      const bool add_special = flags & 1, parse_special = flags & 2;
      for (const Tokenizer* tok : {smollm.get(), gemma.get()}) {
        const auto ids = tok->encode(text, add_special, parse_special);
        check_ids_in_range(*tok, ids);
        if (!add_special && !parse_special) {
          if (tok->vocab().kind == Vocab::Kind::kBpe) {
            EXPECT_EQ(printable(tok->decode(ids, false)), printable(bpe_normalized(text)));
          } else {
            EXPECT_EQ(printable(spm_normalized(tok->decode(ids, false))),
                      printable(spm_normalized(text)));
          }
        }
      }
    }
  }
}

TEST(Tokenizer, SpecialTokens) {
  const auto smollm = test::load_tokenizer(test::kSmollm);
  const auto im_start = smollm->find_token("<|im_start|>");
  ASSERT_TRUE(im_start.has_value());
  EXPECT_EQ(*im_start, 1);
  EXPECT_TRUE(smollm->is_control(1));
  EXPECT_FALSE(smollm->is_control(*smollm->find_token("Hello")));
  EXPECT_EQ(smollm->token_text(1), "<|im_start|>");
  EXPECT_EQ(smollm->token_text(-5), "");
  EXPECT_FALSE(smollm->find_token("definitely not a token").has_value());
  EXPECT_EQ(smollm->encode("<|im_start|>", false, true), std::vector<int32_t>{1});
  EXPECT_GT(smollm->encode("<|im_start|>", false, false).size(), 3u);
  EXPECT_EQ(smollm->token_to_piece(1, false), "");
  EXPECT_EQ(smollm->token_to_piece(1, true), "<|im_start|>");
  EXPECT_TRUE(smollm->is_end_of_generation(*smollm->find_token("<|im_end|>")));
  EXPECT_TRUE(smollm->is_end_of_generation(*smollm->find_token("<|endoftext|>")));
  EXPECT_FALSE(smollm->is_end_of_generation(1));
  EXPECT_FALSE(smollm->add_bos());

  const auto gemma = test::load_tokenizer(test::kGemma);
  EXPECT_TRUE(gemma->add_bos());
  EXPECT_EQ(gemma->bos_id(), *gemma->find_token("<bos>"));
  const int32_t eot = *gemma->find_token("<end_of_turn>");
  EXPECT_TRUE(gemma->is_end_of_generation(eot));
  EXPECT_TRUE(gemma->is_end_of_generation(gemma->eos_id()));
  const auto ids = gemma->encode("<start_of_turn>user\nHi<end_of_turn>\n", true, true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), gemma->bos_id());
  EXPECT_EQ(ids[1], *gemma->find_token("<start_of_turn>"));
  EXPECT_EQ(ids[ids.size() - 2], eot);
  EXPECT_EQ(ids.back(), *gemma->find_token("\n"));  // a user-defined token
  // decode hides control tokens unless asked.
  EXPECT_EQ(gemma->decode(ids, false), "user\nHi\n");
  EXPECT_EQ(gemma->decode(ids, true), "<bos><start_of_turn>user\nHi<end_of_turn>\n");
  // Byte fallback for characters the vocab lacks.
  const int32_t byte_a = *gemma->find_token("<0x41>");
  EXPECT_EQ(gemma->token_to_piece(byte_a, false), "A");
}

TEST(Tokenizer, UnsupportedVocabulariesThrow) {
  using test::Override;
  EXPECT_THROW(test::load_variant(test::kSmollm, {{"tokenizer.ggml.pre", std::string("no-such")}}),
               Error);
  EXPECT_THROW(test::load_variant(test::kSmollm, {{"tokenizer.ggml.model", std::string("t5")}}),
               Error);
  // A file without a vocabulary.
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  const std::string path = ::testing::TempDir() + "/nagare_tok_novocab_" +
                           std::to_string(::getpid()) + ".gguf";
  w.write(path);
  auto file = GgufFile::open(path);
  std::remove(path.c_str());
  try {
    Tokenizer::from_gguf(*file);
    ADD_FAILURE() << "no error for a file without tokenizer.ggml.tokens";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nagare
