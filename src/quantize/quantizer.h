// `nagare quantize`: rewrites a GGUF model with its tensors in a llama-quantize mix, byte for
// byte as llama.cpp's quantizer writes it (without an importance matrix): the same tensor order,
// metadata (general.file_type and general.quantization_version set last), types and blocks.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "quantize/quant_mix.h"

namespace nagare {

struct QuantizeOptions {
  std::string input, output;
  const QuantMix* mix = nullptr;
  TensorTypePlanner::Options tensors;
  bool allow_requantize = false;  // quantized input tensors may be requantized (quality suffers)
  bool force = false;             // replace an existing output file
  int threads = 0;                // 0: physical cores
};

// One line per tensor as it is written: "[ 12/272] blk.0.attn_v.weight [576 x 192] F16 -> Q8_0,
// 0.21 MiB -> 0.11 MiB" (plus the fallback note, if any).
using QuantizeProgress = std::function<void(const std::string& line)>;

struct QuantizeSummary {
  int tensors = 0, quantized = 0, fallbacks = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // tensor data
  double seconds = 0;
};

// Throws Error (naming the file or tensor) for an unreadable input, an output that exists without
// `force`, a quantized input tensor without `allow_requantize`, or a type with no quantizer; the
// output is written to a temporary name and renamed into place only when complete.
QuantizeSummary quantize_model(const QuantizeOptions& options, const QuantizeProgress& progress = nullptr);

}  // namespace nagare
