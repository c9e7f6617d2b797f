// `nagare quantize` against llama.cpp's quantizer (tests/golden/quantize/*.json, made by
// scripts/golden/quantize.py with llama-cpp-python): the same file, byte for byte, for every mix
// and option case, from the SmolLM2 test model dequantized to F16 (scripts/dequantize_model.py);
// and the refusals: an existing output, a quantized input, an unknown type.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "quantize/quantizer.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

namespace fs = std::filesystem;

std::string source(const std::string& rel) { return std::string(NAGARE_SOURCE_DIR) + "/" + rel; }

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0) h.update(buf.data(), size_t(in.gcount()));
  return h.hex_digest();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("nagare_quantize_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

QuantizeOptions options_for(const nlohmann::json& c, const std::string& output) {
  QuantizeOptions o;
  o.input = source("models/" + c["input"].get<std::string>());
  o.output = output;
  o.mix = find_quant_mix(c["mix"].get<std::string>());
  o.threads = 2;
  const auto& opt = c["options"];
  o.tensors.pure = opt.value("pure", false);
  o.allow_requantize = opt.value("allow_requantize", false);
  if (opt.contains("output_tensor_type")) o.tensors.output_type = ggml_type_from_name(opt["output_tensor_type"].get<std::string>());
  if (opt.contains("token_embedding_type")) o.tensors.token_embd_type = ggml_type_from_name(opt["token_embedding_type"].get<std::string>());
  return o;
}

TEST(Quantize, SameFileAsLlamaCpp) {
  std::ifstream in(source("tests/golden/quantize/SmolLM2-135M-Instruct.json"));
  ASSERT_TRUE(in);
  const nlohmann::json golden = nlohmann::json::parse(in);
  TempDir tmp;
  std::map<std::string, bool> input_checked;
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    QuantizeOptions o = options_for(c, tmp.file(name + ".gguf"));
    ASSERT_NE(o.mix, nullptr);
    if (!input_checked[o.input]) {
      ASSERT_EQ(file_sha256(o.input), c["input_sha256"].get<std::string>())
          << o.input << " is not the input the golden was made from (scripts/fetch-models makes it)";
      input_checked[o.input] = true;
    }
    const QuantizeSummary s = quantize_model(o);
    const std::string sha = file_sha256(o.output);
    if (sha != c["sha256"].get<std::string>()) {
      // Say where: the first tensor whose type differs, else the data or metadata.
      const auto out = GgufFile::open(o.output);
      for (const GgufTensor& t : out->tensors())
        EXPECT_EQ(std::string(ggml_type_name(t.type)), c["tensor_types"][t.name].get<std::string>()) << t.name;
      ADD_FAILURE() << "the file differs from llama.cpp's (size " << fs::file_size(o.output) << ", llama.cpp's " << c["size"] << ")";
    }
    std::printf("[ info ] %-30s %6.2f s (llama.cpp %5.2f s), %d fallbacks\n", name.c_str(), s.seconds, c["seconds"].get<double>(),
                s.fallbacks);
    fs::remove(o.output);
  }
}

void expect_error(const QuantizeOptions& o, const std::string& needle) {
  try {
    quantize_model(o);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Quantize, RefusesWhatItShouldNot) {
  TempDir tmp;
  QuantizeOptions o;
  o.input = source("models/SmolLM2-135M-Instruct.Q4_1.gguf");
  o.output = tmp.file("out.gguf");
  o.mix = find_quant_mix("q8_0");
  ASSERT_NE(o.mix, nullptr);
  // A quantized input is requantized only when asked; nothing is left behind.
  expect_error(o, "tensor 'blk.0.attn_k.weight' is already quantized (Q4_1)");
  EXPECT_FALSE(fs::exists(o.output));
  for (const auto& entry : fs::directory_iterator(tmp.path)) ADD_FAILURE() << "left behind: " << entry.path();
  // An existing output is replaced only with force.
  std::ofstream(o.output) << "keep me";
  o.allow_requantize = true;
  expect_error(o, "exists (use --force to replace it)");
  EXPECT_EQ(fs::file_size(o.output), 7u);
  // Never the input itself, even with force.
  QuantizeOptions same = o;
  same.output = same.input;
  same.force = true;
  expect_error(same, "the output would overwrite the input");
  // A missing or corrupt input names the file.
  QuantizeOptions missing = o;
  missing.input = tmp.file("missing.gguf");
  missing.output = tmp.file("x.gguf");
  expect_error(missing, "missing.gguf");
  EXPECT_EQ(find_quant_mix("Q7_K"), nullptr);
  EXPECT_EQ(find_quant_mix("q4_k")->name, "Q4_K_M");  // llama-quantize's alias
}

TEST(Quantize, ExplicitTypesFallBackWhereRowsDoNotFit) {
  // SmolLM2's 576-wide rows hold no 256-element block: an explicit Q6_K embedding falls back to
  // Q8_0 and says so (llama.cpp writes the tensor as Q6_K and then fails its own validation).
  const auto f = GgufFile::open(source("models/SmolLM2-135M-Instruct.F16.gguf"));
  std::vector<const GgufTensor*> tensors;
  for (const GgufTensor& t : f->tensors()) tensors.push_back(&t);
  TensorTypePlanner::Options opt;
  opt.token_embd_type = GgmlType::Q6_K;
  TensorTypePlanner planner(*find_quant_mix("Q4_K_M"), opt, *f, tensors);
  const TensorTypePlanner::Choice c = planner.choose(f->tensor("token_embd.weight"));
  EXPECT_EQ(c.type, GgmlType::Q8_0);
  EXPECT_EQ(c.note, "576 columns are not a multiple of Q6_K's 256: Q8_0 instead");
  // Norms and other vectors are never quantized.
  EXPECT_EQ(planner.choose(f->tensor("output_norm.weight")).type, GgmlType::F32);
}

}  // namespace
}  // namespace nagare
