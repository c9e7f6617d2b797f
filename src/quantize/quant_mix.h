// llama-quantize's file types ("mixes", e.g. Q4_K_M) and the type each tensor gets in one, as
// llama.cpp chooses it: the output and embeddings, attention values and some FFN-down layers get
// more bits; a tensor whose rows a type cannot hold falls back to one that can.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/ggml_type.h"

namespace nagare {

class GgufFile;
struct GgufTensor;

struct QuantMix {
  std::string_view name;   // llama-quantize's name
  int32_t ftype;           // llama.cpp's llama_ftype, stored as general.file_type
  GgmlType default_type;   // what most tensors become
};

// The mix named `name` (case-insensitive), or nullptr.
const QuantMix* find_quant_mix(std::string_view name);
// Every supported mix's name, comma-separated, for messages.
std::string quant_mix_names();

// Chooses each tensor's type for one mix and one model, in the model's tensor order (llama.cpp
// counts attention-value and FFN-down tensors as it goes, and bumps some of them by position).
class TensorTypePlanner {
 public:
  struct Options {
    bool pure = false;                         // the mix's default type everywhere it applies
    bool quantize_output = true;               // false: output.weight keeps its type
    std::optional<GgmlType> output_type;       // for output.weight (and tied embeddings)
    std::optional<GgmlType> token_embd_type;   // for token_embd.weight
  };
  struct Choice {
    GgmlType type;
    std::string note;  // non-empty when the rows forced a fallback: what and why
  };

  // Reads the hyperparameters it needs (layer count, GQA ratio, experts) from the file.
  TensorTypePlanner(const QuantMix& mix, const Options& options, const GgufFile& file,
                    const std::vector<const GgufTensor*>& tensors_in_order);
  // The next tensor's type; call once per tensor, in the order given to the constructor.
  Choice choose(const GgufTensor& t);
  int fallbacks() const { return n_fallback_; }

  // Whether llama.cpp quantizes a tensor at all (matrices named *weight, except norms, the MoE
  // router and a few small tables); others are copied unchanged.
  static bool quantizable(const GgufTensor& t, bool quantize_output);

 private:
  enum class Category { kTokenEmbd, kOutput, kAttnQ, kAttnK, kAttnV, kAttnQkv, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOther };
  static Category category(const std::string& name);
  GgmlType mix_rule(GgmlType type, const GgufTensor& t, Category cat);
  Choice fallback(const GgufTensor& t, GgmlType type);
  // (layer, layer count) for the FFN rules: the running count, or the name's block number in a
  // MoE model (llama.cpp's reading).
  std::pair<int, int> layer_of(int counter, const std::string& name) const;

  const QuantMix& mix_;
  Options options_;
  std::string arch_;
  int n_layer_ = 0, n_gqa_ = 1, n_expert_ = 0;
  bool llama_70b_ = false, tied_embeddings_ = true;
  // llama.cpp's running counts (its gate/up counts only serve importance-matrix mixes).
  int n_attn_v_ = 0, i_attn_v_ = 0, i_ffn_down_ = 0, n_fallback_ = 0;
};

}  // namespace nagare
