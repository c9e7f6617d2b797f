// Quantized tensor formats (GGUF block layouts): dequantization, activation quantization and
// the dot product of one weight row with one quantized activation row. These are the scalar
// reference kernels; SIMD variants must match them (see the CPU-speed work).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/ggml_type.h"

namespace nagare {

// Weight types the engine computes with: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K, Q6_K.
bool is_supported_weight_type(GgmlType type);

// Bytes taken by n elements of `type` (n a multiple of the type's block size).
size_t row_bytes(GgmlType type, int64_t n);

// src holds n elements of `type` (n a multiple of its block size); writes n floats.
// Supported for every weight type above and for Q8_1 and Q8_K.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// The format a weight type's dot product takes its activations in, as llama.cpp chooses it
// (so numerics match the reference): Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for
// the K-quants, F16 for F16, BF16 for BF16, F32 for F32.
GgmlType activation_type_for(GgmlType weight_type);

// Quantizes n floats into `act_type` (one of Q8_0, Q8_1, Q8_K, F16, BF16, F32).
void quantize_row(GgmlType act_type, const float* src, void* dst, int64_t n);

// Dot product of n elements: w_row in weight_type, act_row in activation_type_for(weight_type).
float vec_dot(GgmlType weight_type, const void* w_row, const void* act_row, int64_t n);

}  // namespace nagare
