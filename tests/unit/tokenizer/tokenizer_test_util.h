// Helpers shared by the tokenizer tests: model loading, hex and printable forms of byte strings.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace nagare::test {

inline constexpr const char* kSmollm = "SmolLM2-135M-Instruct.Q4_1.gguf";
inline constexpr const char* kGemma = "gemma-3-270m-q4_k_m.gguf";
inline constexpr const char* kTinyBert = "tiny/tiny-bert.gguf";  // scripts/tiny_models.py

inline std::string model_path(const std::string& name) {
  return std::string(NAGARE_SOURCE_DIR) + "/models/" + name;
}

// A test model's tokenizer, loaded once per process (gemma3's vocab is 262k tokens).
inline std::shared_ptr<const Tokenizer> load_tokenizer(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    auto file = GgufFile::open(model_path(name));  // throws with the path if missing
    slot = Tokenizer::from_gguf(*file);
  }
  return slot;
}

// A tokenizer from a vocab-only copy of a test model with some metadata replaced (strings or
// bools), written with GgufWriter the way scripts/golden/tokenizer.py writes it for llama.cpp.
using Override = std::pair<std::string, std::variant<std::string, bool>>;
inline std::shared_ptr<const Tokenizer> load_variant(const std::string& name,
                                                     const std::vector<Override>& overrides) {
  static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
  std::string cache_key = name;
  for (const auto& [k, v] : overrides) {
    cache_key += "|" + k + "=" + (v.index() == 0 ? std::get<0>(v) : std::get<1>(v) ? "1" : "0");
  }
  auto& slot = cache[cache_key];
  if (slot) return slot;
  auto src = GgufFile::open(model_path(name));
  GgufWriter w;
  for (const std::string& key : src->metadata_order()) w.set(key, *src->find(key));
  for (const auto& [k, v] : overrides) {
    if (v.index() == 0) {
      w.set_string(k, std::get<0>(v));
    } else {
      w.set_bool(k, std::get<1>(v));
    }
  }
  const std::string path = ::testing::TempDir() + "/nagare_tok_" + std::to_string(::getpid()) + "_" +
                           std::to_string(cache.size()) + ".gguf";
  w.write(path);
  auto file = GgufFile::open(path);
  slot = Tokenizer::from_gguf(*file);
  std::remove(path.c_str());
  return slot;
}

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Escapes control and non-ASCII bytes so failures print readably.
inline std::string printable(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace nagare::test
