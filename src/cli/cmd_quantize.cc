// `nagare quantize IN.gguf OUT.gguf TYPE`: a model in one of llama-quantize's mixes (Q4_K_M, ...),
// written as llama.cpp's quantizer writes it; one progress line per tensor.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "quantize/quantizer.h"
#include "util/error.h"

namespace nagare {
namespace {

GgmlType tensor_type_option(const std::string& flag, const std::string& name) {
  const std::optional<GgmlType> t = ggml_type_from_name(name);
  if (!t) throw Error(flag + ": unknown tensor type '" + name + "' (for example Q8_0, Q6_K, F16)");
  return *t;
}

}  // namespace

void add_quantize_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a GGUF model as llama-quantize does (no importance matrix)");
  static std::string input, output, type, output_type, embd_type;
  static QuantizeOptions o;
  static bool leave_output = false;
  cmd->add_option("input", input, "Model to quantize (F32, F16 or BF16; a quantized one with --allow-requantize)")->required();
  cmd->add_option("output", output, "File to write")->required();
  cmd->add_option("type", type, "Mix: " + quant_mix_names() + " (Q3_K, Q4_K, Q5_K: the _M mixes)")->required();
  cmd->add_flag("--allow-requantize", o.allow_requantize, "Requantize tensors that are already quantized (loses quality)");
  cmd->add_flag("--pure", o.tensors.pure, "The mix's type for every tensor it applies to: no bumps for sensitive tensors");
  cmd->add_flag("--leave-output-tensor", leave_output, "Keep output.weight as it is");
  cmd->add_option("--output-tensor-type", output_type, "Type of output.weight (and of tied embeddings)");
  cmd->add_option("--token-embedding-type", embd_type, "Type of token_embd.weight");
  cmd->add_option("-t,--threads", o.threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("-f,--force", o.force, "Replace the output file if it exists");
  cmd->callback([&action] {
    action = [] {
      o.input = input;
      o.output = output;
      o.mix = find_quant_mix(type);
      if (o.mix == nullptr) throw Error("unknown quantization type '" + type + "' (one of " + quant_mix_names() + ")");
      o.tensors.quantize_output = !leave_output;
      if (!output_type.empty()) o.tensors.output_type = tensor_type_option("--output-tensor-type", output_type);
      if (!embd_type.empty()) o.tensors.token_embd_type = tensor_type_option("--token-embedding-type", embd_type);
      const QuantizeSummary s = quantize_model(o, [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      });
      std::printf("quantized %d of %d tensors to %s in %.1f s: %.2f MiB -> %.2f MiB%s\n", s.quantized, s.tensors,
                  std::string(o.mix->name).c_str(), s.seconds, double(s.bytes_in) / (1 << 20), double(s.bytes_out) / (1 << 20),
                  s.fallbacks ? (", " + std::to_string(s.fallbacks) + " tensor(s) fell back to another type").c_str() : "");
      std::printf("wrote %s\n", output.c_str());
      return 0;
    };
  });
}

}  // namespace nagare
