// Tensor element types of the GGUF/ggml format: ids as stored in files, block geometry, names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nagare {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

struct GgmlTypeInfo {
  std::string_view name;
  uint32_t block_elements;  // elements per block (1 for plain types)
  uint32_t block_bytes;     // bytes per block
};

// Geometry of a type id read from a file; nullopt for ids this build does not know. Checked
// against gguf-py's GGML_QUANT_SIZES by tests/unit/gguf/gguf_golden_test.cc.
constexpr std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id) {
  switch (static_cast<GgmlType>(id)) {
    case GgmlType::F32: return GgmlTypeInfo{"F32", 1, 4};
    case GgmlType::F16: return GgmlTypeInfo{"F16", 1, 2};
    case GgmlType::BF16: return GgmlTypeInfo{"BF16", 1, 2};
    case GgmlType::F64: return GgmlTypeInfo{"F64", 1, 8};
    case GgmlType::I8: return GgmlTypeInfo{"I8", 1, 1};
    case GgmlType::I16: return GgmlTypeInfo{"I16", 1, 2};
    case GgmlType::I32: return GgmlTypeInfo{"I32", 1, 4};
    case GgmlType::I64: return GgmlTypeInfo{"I64", 1, 8};
    case GgmlType::Q4_0: return GgmlTypeInfo{"Q4_0", 32, 18};
    case GgmlType::Q4_1: return GgmlTypeInfo{"Q4_1", 32, 20};
    case GgmlType::Q5_0: return GgmlTypeInfo{"Q5_0", 32, 22};
    case GgmlType::Q5_1: return GgmlTypeInfo{"Q5_1", 32, 24};
    case GgmlType::Q8_0: return GgmlTypeInfo{"Q8_0", 32, 34};
    case GgmlType::Q8_1: return GgmlTypeInfo{"Q8_1", 32, 36};
    case GgmlType::Q2_K: return GgmlTypeInfo{"Q2_K", 256, 84};
    case GgmlType::Q3_K: return GgmlTypeInfo{"Q3_K", 256, 110};
    case GgmlType::Q4_K: return GgmlTypeInfo{"Q4_K", 256, 144};
    case GgmlType::Q5_K: return GgmlTypeInfo{"Q5_K", 256, 176};
    case GgmlType::Q6_K: return GgmlTypeInfo{"Q6_K", 256, 210};
    case GgmlType::Q8_K: return GgmlTypeInfo{"Q8_K", 256, 292};
    case GgmlType::IQ2_XXS: return GgmlTypeInfo{"IQ2_XXS", 256, 66};
    case GgmlType::IQ2_XS: return GgmlTypeInfo{"IQ2_XS", 256, 74};
    case GgmlType::IQ3_XXS: return GgmlTypeInfo{"IQ3_XXS", 256, 98};
    case GgmlType::IQ1_S: return GgmlTypeInfo{"IQ1_S", 256, 50};
    case GgmlType::IQ4_NL: return GgmlTypeInfo{"IQ4_NL", 32, 18};
    case GgmlType::IQ3_S: return GgmlTypeInfo{"IQ3_S", 256, 110};
    case GgmlType::IQ2_S: return GgmlTypeInfo{"IQ2_S", 256, 82};
    case GgmlType::IQ4_XS: return GgmlTypeInfo{"IQ4_XS", 256, 136};
    case GgmlType::IQ1_M: return GgmlTypeInfo{"IQ1_M", 256, 56};
    case GgmlType::TQ1_0: return GgmlTypeInfo{"TQ1_0", 256, 54};
    case GgmlType::TQ2_0: return GgmlTypeInfo{"TQ2_0", 256, 66};
    case GgmlType::MXFP4: return GgmlTypeInfo{"MXFP4", 32, 17};
    case GgmlType::NVFP4: return GgmlTypeInfo{"NVFP4", 64, 36};
    case GgmlType::Q1_0: return GgmlTypeInfo{"Q1_0", 128, 18};
  }
  return std::nullopt;
}

// A type by name ("q8_0", "Q6_K", "f16"; ASCII case-insensitive); nullopt for an unknown name.
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

inline std::string_view ggml_type_name(GgmlType t) {
  auto info = ggml_type_info(static_cast<uint32_t>(t));
  return info ? info->name : std::string_view("unknown");
}

}  // namespace nagare
