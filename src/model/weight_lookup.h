// Checked lookups of a GGUF's weight tensors for binding an architecture: each names the tensor
// and the shape or type at fault when the file does not hold what the architecture needs.
#pragma once

#include <cstdint>
#include <string>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "util/error.h"

namespace nagare {

class WeightLookup {
 public:
  explicit WeightLookup(const GgufFile& file) : f_(file) {}

  // A [rows x cols] matrix of a supported weight type.
  WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) const;
  // n F32 values (norms, biases); optional_vec: nullptr when the file has no such tensor.
  const float* vec(const std::string& name, int64_t n) const;
  const float* optional_vec(const std::string& name, int64_t n) const;
  // Rows [first, first + n) of w (fused matrices, experts of a 3-D tensor).
  static WeightMatrix row_range(const WeightMatrix& w, int64_t first, int64_t n);
  // "tensor 'NAME' has shape [a x b], expected [WANT]", for checks of other shapes.
  Error shape_error(const GgufTensor& t, const std::string& want) const;
  static std::string dims(const GgufTensor& t);  // "a x b"

 private:
  const GgufFile& f_;
};

}  // namespace nagare
