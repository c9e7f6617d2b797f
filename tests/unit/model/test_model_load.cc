// Loading checks on small synthetic GGUF files: every problem is one Error naming the file and
// the problem; a valid tiny model runs, and a sequence's logits do not depend on its batch.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "util/error.h"

namespace nagare {
namespace {

constexpr int kEmbd = 32, kHeads = 2, kKvHeads = 1, kFf = 64, kVocab = 40;

struct TinyModel {
  std::string arch = "llama";
  std::map<std::string, GgmlType> type_override;
  std::set<std::string> skip;
  std::map<std::string, std::vector<int64_t>> shape_override;
  std::map<std::string, std::vector<int64_t>> extra;  // more tensors (biases, fused matrices)

  std::string write(const std::string& name) const {
    GgufWriter w;
    w.set_string("general.architecture", arch);
    w.set_u32(arch + ".embedding_length", kEmbd);
    w.set_u32(arch + ".block_count", 2);
    w.set_u32(arch + ".attention.head_count", kHeads);
    w.set_u32(arch + ".attention.head_count_kv", kKvHeads);
    w.set_u32(arch + ".feed_forward_length", kFf);
    w.set_u32(arch + ".context_length", 128);
    w.set_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    auto add = [&](const std::string& tname, std::vector<int64_t> dims) {
      if (skip.count(tname)) return;
      if (shape_override.count(tname)) dims = shape_override.at(tname);
      int64_t n = 1;
      for (auto d : dims) n *= d;
      auto it = type_override.find(tname);
      if (it != type_override.end()) {
        auto info = ggml_type_info(uint32_t(it->second));
        std::vector<uint8_t> bytes(size_t(n / info->block_elements * info->block_bytes), 0);
        w.add_tensor(tname, it->second, dims, bytes.data(), bytes.size());
        return;
      }
      std::vector<float> v(static_cast<size_t>(n));
      for (auto& x : v) x = nd(rng);
      w.add_tensor_f32(tname, dims, v);
    };
    add("token_embd.weight", {kEmbd, kVocab});
    add("output_norm.weight", {kEmbd});
    for (int il = 0; il < 2; ++il) {
      std::string p = "blk." + std::to_string(il) + ".";
      const int hd = kEmbd / kHeads;
      add(p + "attn_norm.weight", {kEmbd});
      add(p + "attn_q.weight", {kEmbd, kEmbd});
      add(p + "attn_k.weight", {kEmbd, kKvHeads * hd});
      add(p + "attn_v.weight", {kEmbd, kKvHeads * hd});
      add(p + "attn_output.weight", {kEmbd, kEmbd});
      add(p + "ffn_norm.weight", {kEmbd});
      add(p + "ffn_gate.weight", {kEmbd, kFf});
      add(p + "ffn_up.weight", {kEmbd, kFf});
      add(p + "ffn_down.weight", {kFf, kEmbd});
    }
    for (const auto& [tname, dims] : extra) add(tname, dims);
    std::string path = (std::filesystem::temp_directory_path() / ("nagare_test_" + name + ".gguf")).string();
    w.write(path);
    return path;
  }
};

void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    Model::load(path);
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(ModelLoad, UnknownArchitecture) {
  TinyModel m;
  m.arch = "mamba";
  expect_load_error(m.write("arch"), "unsupported model architecture 'mamba' (supported: llama, qwen2, qwen3, qwen3moe, phi3, gemma2, gemma3, gpt-oss, bert, nomic-bert (embeddings only))");
}

TEST(ModelLoad, OtherArchitecturesNameTheirTensors) {
  // qwen3: per-head q/k norms are required.
  TinyModel qwen3;
  qwen3.arch = "qwen3";
  expect_load_error(qwen3.write("qwen3"), "missing tensor 'blk.0.attn_q_norm.weight'");
  // gemma2: post-attention and post-FFN norms are required.
  TinyModel gemma2;
  gemma2.arch = "gemma2";
  expect_load_error(gemma2.write("gemma2"), "missing tensor 'blk.0.post_attention_norm.weight'");
  // qwen3moe: the expert counts are required metadata.
  TinyModel moe;
  moe.arch = "qwen3moe";
  expect_load_error(moe.write("qwen3moe"), "qwen3moe.expert_count");
  // A bias of the wrong length is named with both shapes.
  TinyModel qwen2;
  qwen2.arch = "qwen2";
  qwen2.extra["blk.1.attn_k.bias"] = {kEmbd};
  expect_load_error(qwen2.write("qwen2"), "tensor 'blk.1.attn_k.bias' has shape [32], expected [16]");
  // phi3's fused matrices: a wrong fused QKV is named; an FFN with neither a gate nor a fused
  // gate-up asks for the gate.
  TinyModel phi3;
  phi3.arch = "phi3";
  phi3.extra["blk.0.attn_qkv.weight"] = {kEmbd, kEmbd + 8};
  expect_load_error(phi3.write("phi3"), "tensor 'blk.0.attn_qkv.weight' has shape [32 x 40], expected [32 x 64]");
  TinyModel phi3_ffn;
  phi3_ffn.arch = "phi3";
  phi3_ffn.skip.insert("blk.0.ffn_gate.weight");
  expect_load_error(phi3_ffn.write("phi3_ffn"), "missing tensor 'blk.0.ffn_gate.weight'");
}

TEST(ModelLoad, UnsupportedTensorType) {
  TinyModel m;
  m.type_override["blk.1.attn_q.weight"] = GgmlType::I32;  // integers: never a weight matrix
  expect_load_error(m.write("type"), "tensor 'blk.1.attn_q.weight' has unsupported type I32");
  TinyModel m2;
  m2.type_override["blk.0.ffn_up.weight"] = GgmlType::Q8_1;  // an activation format, never a weight
  expect_load_error(m2.write("type2"), "unsupported type Q8_1");
}

TEST(ModelLoad, MissingTensor) {
  TinyModel m;
  m.skip.insert("blk.1.ffn_down.weight");
  expect_load_error(m.write("missing"), "missing tensor 'blk.1.ffn_down.weight'");
}

TEST(ModelLoad, WrongShape) {
  TinyModel m;
  m.shape_override["blk.0.attn_k.weight"] = {kEmbd, 8};
  expect_load_error(m.write("shape"), "blk.0.attn_k.weight");
}

TEST(ModelLoad, MissingFile) {
  try {
    Model::load("/nonexistent/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
}

TEST(ModelForward, TinyModelLogitsAreFiniteAndBatchInvariant) {
  auto model = Model::load(TinyModel{}.write("valid"));
  KvCache kv(model->config(), 8, 4);
  ThreadPool pool(2);
  std::vector<int32_t> ta = {0, 1, 2, 3, 4, 5}, tb = {6, 7};
  std::vector<int32_t> seq_a = {3, 5, 7, 9, 11, 13, 15, 17, 19};
  std::vector<int32_t> seq_b = {2, 4};
  // A alone.
  Batch alone;
  alone.sequences.push_back({ta.data(), 3});
  for (int i = 0; i < 9; ++i) alone.add(seq_a[i], i, 0, true);
  std::vector<float> la(9 * kVocab);
  model->forward(alone, kv, la.data(), pool);
  for (float x : la) ASSERT_TRUE(std::isfinite(x));
  // A again, interleaved with B and split into two steps (chunked prefill).
  Batch first;
  first.sequences.push_back({ta.data(), 3});
  first.sequences.push_back({tb.data(), 2});
  first.add(seq_b[0], 0, 1, true);
  for (int i = 0; i < 5; ++i) first.add(seq_a[i], i, 0, true);
  first.add(seq_b[1], 1, 1, true);
  std::vector<float> l1(7 * kVocab);
  model->forward(first, kv, l1.data(), pool);
  Batch second;
  second.sequences.push_back({ta.data(), 3});
  for (int i = 5; i < 9; ++i) second.add(seq_a[i], i, 0, true);
  std::vector<float> l2(4 * kVocab);
  model->forward(second, kv, l2.data(), pool);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(std::equal(la.begin() + i * kVocab, la.begin() + (i + 1) * kVocab, l1.begin() + (i + 1) * kVocab)) << i;
  for (int i = 5; i < 9; ++i)
    EXPECT_TRUE(std::equal(la.begin() + i * kVocab, la.begin() + (i + 1) * kVocab, l2.begin() + (i - 5) * kVocab)) << i;
}

// A decode step of many sequences (one token each): with 4+ tokens a thread each token's task
// rotates and caches its own keys and attends (Model::attention); the logits must equal those of
// each sequence decoded alone, which takes the other path (a pass for the cache, head tasks).
TEST(ModelForward, DecodeStepOfManySequencesEqualsEachAlone) {
  constexpr int kSeqs = 9, kPrompt = 3;
  std::vector<float> together(kSeqs * kVocab), alone(kSeqs * kVocab);
  for (bool batched : {true, false}) {
    auto model = Model::load(TinyModel{}.write(batched ? "decode_batched" : "decode_alone"));
    KvCache kv(model->config(), 2 * kSeqs, 4);
    ThreadPool pool(2);
    std::vector<std::vector<int32_t>> tables(kSeqs);
    for (int s = 0; s < kSeqs; ++s) {
      tables[s] = {2 * s, 2 * s + 1};
      Batch prefill;
      prefill.sequences.push_back({tables[s].data(), 2});
      for (int i = 0; i < kPrompt; ++i) prefill.add((7 * s + 3 * i) % kVocab, i, 0, false);
      model->forward(prefill, kv, nullptr, pool);
    }
    auto next_token = [](int s) { return (5 * s + 1) % kVocab; };
    if (batched) {
      Batch step;
      for (int s = 0; s < kSeqs; ++s) {
        step.sequences.push_back({tables[s].data(), 2});
        step.add(next_token(s), kPrompt, s, true);
      }
      ASSERT_TRUE(step.one_token_per_sequence());
      model->forward(step, kv, together.data(), pool);
    } else {
      for (int s = 0; s < kSeqs; ++s) {
        Batch step;
        step.sequences.push_back({tables[s].data(), 2});
        step.add(next_token(s), kPrompt, 0, true);
        model->forward(step, kv, alone.data() + s * kVocab, pool);
      }
    }
  }
  for (int s = 0; s < kSeqs; ++s)
    EXPECT_TRUE(std::equal(alone.begin() + s * kVocab, alone.begin() + (s + 1) * kVocab, together.begin() + s * kVocab)) << s;
  Batch two_of_one;
  std::vector<int32_t> table = {0, 1};
  two_of_one.sequences.push_back({table.data(), 2});
  two_of_one.add(1, 0, 0, false);
  two_of_one.add(2, 1, 0, false);
  EXPECT_FALSE(two_of_one.one_token_per_sequence());
}

TEST(ModelForward, RejectsTokensAndPositionsOutOfRange) {
  auto model = Model::load(TinyModel{}.write("valid2"));
  KvCache kv(model->config(), 2, 4);
  ThreadPool pool(1);
  std::vector<int32_t> table = {0, 1};
  std::vector<float> logits(kVocab);
  Batch b;
  b.sequences.push_back({table.data(), 2});
  b.add(kVocab, 0, 0, true);
  EXPECT_THROW(model->forward(b, kv, logits.data(), pool), Error);
  b.clear();
  b.sequences.push_back({table.data(), 2});
  b.add(1, 8, 0, true);  // beyond the two blocks of four
  EXPECT_THROW(model->forward(b, kv, logits.data(), pool), Error);
}

// KV cache types: llama.cpp's names, the bytes each takes, and a refusal with the reason for a
// model whose heads are not whole blocks of the type.
TEST(KvCacheTypes, NamesSizesAndHeadsThatCannotHoldThem) {
  EXPECT_EQ(parse_kv_type("f16"), GgmlType::F16);
  EXPECT_EQ(parse_kv_type("q8_0"), GgmlType::Q8_0);
  EXPECT_EQ(parse_kv_type("Q4_0"), GgmlType::Q4_0);
  for (const char* bad : {"q5_0", "f32", "bogus", ""}) {
    try {
      parse_kv_type(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("f16, q8_0 or q4_0"), std::string::npos) << e.what();
    }
  }
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim_k = c.head_dim_v = 64;
  c.layer_uses_swa = {false, false};
  // Per token: 2 layers x 2 heads x 64 elements, keys and values: 2 bytes each in f16; 34 bytes per
  // 32 in q8_0, 18 in q4_0.
  EXPECT_EQ(KvCache::bytes_per_token(c), 2u * 2 * 64 * 2 * 2);
  EXPECT_EQ(KvCache::bytes_per_token(c, {GgmlType::Q8_0, GgmlType::Q8_0}), 2u * 2 * 2 * 2 * 34);
  EXPECT_EQ(KvCache::bytes_per_token(c, {GgmlType::Q8_0, GgmlType::Q4_0}), 2u * 2 * 2 * (34 + 18));
  KvCache quantized(c, 4, 16, {GgmlType::Q4_0, GgmlType::Q8_0});
  EXPECT_EQ(quantized.bytes(), size_t(4) * 16 * 2 * 2 * 2 * (18 + 34));
  c.head_dim_v = 48;  // keys fit blocks of 32, values do not
  EXPECT_NO_THROW(check_kv_types(c, {GgmlType::Q8_0, GgmlType::F16}));
  try {
    KvCache kv(c, 4, 16, {GgmlType::F16, GgmlType::Q8_0});
    ADD_FAILURE() << "q8_0 values of 48-element heads accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("q8_0"), std::string::npos) << what;
    EXPECT_NE(what.find("48"), std::string::npos) << what;
    EXPECT_NE(what.find("32"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace nagare
