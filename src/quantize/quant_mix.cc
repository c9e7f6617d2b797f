// The mixes and llama.cpp's per-tensor rules (llama-quant.cpp's llama_tensor_get_type), for the
// mixes nagare writes; the rules of the importance-matrix mixes (IQ1/IQ2/IQ3) are left out.
#include "quantize/quant_mix.h"

#include <algorithm>
#include <cstdio>

#include "gguf/gguf_file.h"
#include "util/ascii.h"

namespace nagare {
namespace {

constexpr QuantMix kMixes[] = {
    {"F32", 0, GgmlType::F32},        {"F16", 1, GgmlType::F16},        {"BF16", 32, GgmlType::BF16},
    {"Q4_0", 2, GgmlType::Q4_0},      {"Q4_1", 3, GgmlType::Q4_1},      {"Q5_0", 8, GgmlType::Q5_0},
    {"Q5_1", 9, GgmlType::Q5_1},      {"Q8_0", 7, GgmlType::Q8_0},      {"Q2_K", 10, GgmlType::Q2_K},
    {"Q3_K_S", 11, GgmlType::Q3_K},   {"Q3_K_M", 12, GgmlType::Q3_K},   {"Q3_K_L", 13, GgmlType::Q3_K},
    {"Q4_K_S", 14, GgmlType::Q4_K},   {"Q4_K_M", 15, GgmlType::Q4_K},   {"Q5_K_S", 16, GgmlType::Q5_K},
    {"Q5_K_M", 17, GgmlType::Q5_K},   {"Q6_K", 18, GgmlType::Q6_K},     {"IQ4_NL", 25, GgmlType::IQ4_NL},
    {"IQ4_XS", 30, GgmlType::IQ4_XS}, {"MXFP4_MOE", 38, GgmlType::MXFP4},
};
// llama-quantize's short names for the medium mixes.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// llama.cpp: layers at the ends and every third in between get more bits.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Dimensions up to the last that is not 1 (ggml_n_dims).
int n_dims(const GgufTensor& t) {
  int n = 1;
  for (size_t i = 0; i < t.dims.size(); ++i)
    if (t.dims[i] > 1) n = int(i) + 1;
  return n;
}

int metadata_int(const GgufFile& f, const std::string& key, int def) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return def;
  if (v->is_integer()) return int(v->as_int());
  if (v->type == GgufValueType::ARRAY && !v->as_array().empty()) return int(v->as_array().int_at(0));  // per layer
  return def;
}

}  // namespace

const QuantMix* find_quant_mix(std::string_view name) {
  for (const auto& [alias, target] : kAliases)
    if (ascii_iequals(name, alias)) name = target;
  for (const QuantMix& m : kMixes)
    if (ascii_iequals(name, m.name)) return &m;
  return nullptr;
}

std::string quant_mix_names() {
  std::string out;
  for (const QuantMix& m : kMixes) out += (out.empty() ? "" : ", ") + std::string(m.name);
  return out;
}

bool TensorTypePlanner::quantizable(const GgufTensor& t, bool quantize_output) {
  const std::string& name = t.name;
  if (n_dims(t) < 2 || !name.ends_with("weight") || contains(name, "_norm.weight")) return false;
  if (!quantize_output && name == "output.weight") return false;
  // Small or index-like tables llama.cpp leaves as they are.
  for (std::string_view keep : {"ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
                                "shortconv.conv.weight", "attn_rel_b.weight", "time_mix_", "position_embd", "token_types"})
    if (contains(name, keep)) return false;
  return true;
}

TensorTypePlanner::Category TensorTypePlanner::category(const std::string& name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::kAttnQkv;  // attention-value-like, as llama.cpp counts it
  if (contains(name, "attn_v.weight")) return Category::kAttnV;
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

TensorTypePlanner::TensorTypePlanner(const QuantMix& mix, const Options& options, const GgufFile& file,
                                     const std::vector<const GgufTensor*>& tensors_in_order)
    : mix_(mix), options_(options) {
  arch_ = file.get_string("general.architecture", "");
  n_layer_ = metadata_int(file, arch_ + ".block_count", 0);
  const int n_head = metadata_int(file, arch_ + ".attention.head_count", 1);
  const int n_head_kv = metadata_int(file, arch_ + ".attention.head_count_kv", n_head);
  n_gqa_ = n_head_kv > 0 ? n_head / n_head_kv : 1;
  n_expert_ = metadata_int(file, arch_ + ".expert_count", 0);
  llama_70b_ = arch_ == "llama" && n_layer_ == 80 && n_head != n_head_kv;  // llama.cpp's LLM_TYPE_70B
  for (const GgufTensor* t : tensors_in_order) {
    const Category c = category(t->name);
    if (c == Category::kAttnV || c == Category::kAttnQkv) ++n_attn_v_;
    if (c == Category::kOutput) tied_embeddings_ = false;
  }
}

std::pair<int, int> TensorTypePlanner::layer_of(int counter, const std::string& name) const {
  if (n_expert_ <= 1) return {counter, n_layer_};
  int layer = -1;
  std::sscanf(name.c_str(), "blk.%d.", &layer);
  return {layer, n_layer_};
}

// llama.cpp's llama_tensor_get_type_impl for the supported mixes (its Falcon branches included).
GgmlType TensorTypePlanner::mix_rule(GgmlType type, const GgufTensor& t, Category cat) {
  const std::string_view m = mix_.name;
  const bool falcon = arch_ == "falcon";
  if (cat == Category::kOutput || (tied_embeddings_ && cat == Category::kTokenEmbd)) {
    if (options_.output_type) return *options_.output_type;
    if (m == "MXFP4_MOE") return GgmlType::Q8_0;
    if (falcon || t.dims[0] % int64_t(ggml_type_info(uint32_t(type))->block_elements) != 0) return GgmlType::Q8_0;
    return type == GgmlType::Q8_0 ? type : GgmlType::Q6_K;
  }
  // gpt-oss's mix: the experts (3-D tensors) in MXFP4, everything else in Q8_0.
  if (m == "MXFP4_MOE") return t.dims.size() > 2 && t.dims[2] > 1 ? GgmlType::MXFP4 : GgmlType::Q8_0;
  if (cat == Category::kTokenEmbd) return options_.token_embd_type.value_or(type);
  if (cat == Category::kAttnV || cat == Category::kAttnQkv) {
    // A fused attn_qkv counts as attention values here, as in llama.cpp (whose own attn_qkv
    // rules come after this branch and are never reached).
    if (m == "Q2_K") type = n_gqa_ >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    else if (m == "Q3_K_M") type = i_attn_v_ < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (m == "Q3_K_L") type = GgmlType::Q5_K;
    else if ((m == "IQ4_NL" || m == "IQ4_XS") && n_gqa_ >= 4) type = GgmlType::Q5_K;
    else if ((m == "Q4_K_M" || m == "Q5_K_M") && use_more_bits(i_attn_v_, n_attn_v_)) type = GgmlType::Q6_K;
    else if (m == "Q4_K_S" && i_attn_v_ < 4) type = GgmlType::Q5_K;
    if (llama_70b_ && (type == GgmlType::Q3_K || type == GgmlType::Q4_K)) type = GgmlType::Q5_K;
    if (n_expert_ == 8) type = GgmlType::Q8_0;
    ++i_attn_v_;
    return type;
  }
  if (cat == Category::kAttnK) return n_expert_ == 8 ? GgmlType::Q8_0 : type;
  if (cat == Category::kFfnDown) {
    const auto [i, n] = layer_of(i_ffn_down_, t.name);
    if (m == "Q2_K") type = GgmlType::Q3_K;
    else if (m == "Q3_K_M") type = i < n / 16 ? GgmlType::Q5_K : !falcon || use_more_bits(i, n) ? GgmlType::Q4_K : GgmlType::Q3_K;
    else if (m == "Q3_K_L") type = falcon ? GgmlType::Q4_K : GgmlType::Q5_K;
    else if (m == "Q4_K_M") {
      if (falcon) type = i < n / 16 ? GgmlType::Q6_K : use_more_bits(i, n) ? GgmlType::Q5_K : GgmlType::Q4_K;
      else if (use_more_bits(i, n)) type = GgmlType::Q6_K;
    } else if (i < n / 8 && (m == "IQ4_NL" || m == "IQ4_XS")) type = GgmlType::Q5_K;
    else if (m == "Q5_K_M" && use_more_bits(i, n)) type = GgmlType::Q6_K;
    else if (m == "Q4_K_S" && !falcon && i < n / 8) type = GgmlType::Q5_K;
    ++i_ffn_down_;
    return type;
  }
  if (cat == Category::kAttnOutput) {
    if (falcon) return m == "Q3_K_L" ? GgmlType::Q4_K : type;
    if (n_expert_ == 8) {
      for (std::string_view bumped : {"Q2_K", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M", "IQ4_XS"})
        if (m == bumped) return GgmlType::Q5_K;
      return type;
    }
    if (m == "Q2_K") return GgmlType::Q3_K;
    if (m == "Q3_K_M") return GgmlType::Q4_K;
    if (m == "Q3_K_L") return GgmlType::Q5_K;
    return type;
  }
  return type;
}

// llama.cpp's tensor_type_fallback: a type whose blocks do not divide the rows gives way to a
// 32-element one of about the same size, and F16 when even that does not fit.
TensorTypePlanner::Choice TensorTypePlanner::fallback(const GgufTensor& t, GgmlType type) {
  const int64_t cols = t.dims[0];
  const int64_t block = ggml_type_info(uint32_t(type))->block_elements;
  if (cols % block == 0) return {type, ""};
  ++n_fallback_;
  GgmlType to = type;
  switch (type) {
    case GgmlType::IQ4_XS: to = GgmlType::IQ4_NL; break;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: to = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: to = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: to = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: to = GgmlType::Q8_0; break;
    default: break;
  }
  if (cols % int64_t(ggml_type_info(uint32_t(to))->block_elements) != 0) to = GgmlType::F16;
  return {to, std::to_string(cols) + " columns are not a multiple of " + std::string(ggml_type_name(type)) + "'s " +
                  std::to_string(block) + ": " + std::string(ggml_type_name(to)) + " instead"};
}

TensorTypePlanner::Choice TensorTypePlanner::choose(const GgufTensor& t) {
  if (!quantizable(t, options_.quantize_output)) return {t.type, ""};
  const Category cat = category(t.name);
  // Explicit types are taken as given, except that rows they cannot hold fall back as the mix's
  // types do (llama.cpp writes such a tensor and then fails to validate it).
  if (options_.token_embd_type && cat == Category::kTokenEmbd) return fallback(t, *options_.token_embd_type);
  if (options_.output_type && cat == Category::kOutput) return fallback(t, *options_.output_type);
  GgmlType type = mix_.default_type;
  const bool quantized = ggml_type_info(uint32_t(type))->block_elements > 1;
  if (!quantized) return {type, ""};
  if (!options_.pure) type = mix_rule(type, t, cat);
  return fallback(t, type);
}

}  // namespace nagare
