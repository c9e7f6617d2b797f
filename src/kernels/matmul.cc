#include "kernels/matmul.h"

#include <algorithm>

#include "kernels/quant.h"
#include "util/error.h"

namespace nagare {
namespace {
constexpr int64_t kRowsPerTask = 16;    // weight rows per task: enough work to amortize dispatch
constexpr int64_t kTokensPerTile = 4;   // tokens sharing a weight row while it sits in L1
}  // namespace

void QuantizedActivations::quantize(GgmlType act, const float* x, int64_t n_tokens, int64_t cols,
                                    int64_t x_stride, ThreadPool& pool) {
  act_type_ = act;
  cols_ = cols;
  row_bytes_ = row_bytes(act, cols);
  size_t need = row_bytes_ * size_t(n_tokens);
  if (buffer_.size() < need) buffer_.resize(need);
  if (act == GgmlType::F32) {
    for (int64_t t = 0; t < n_tokens; ++t)
      std::copy(x + t * x_stride, x + t * x_stride + cols, reinterpret_cast<float*>(buffer_.data() + t * row_bytes_));
    return;
  }
  pool.parallel_for(n_tokens, [&](int64_t t, int) {
    quantize_row(act, x + t * x_stride, buffer_.data() + t * row_bytes_, cols);
  });
}

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool) {
  if (x.act_type() != activation_type_for(w.type) || x.cols() != w.cols) throw Error("matmul: activations quantized for another weight");
  int64_t n_row_tasks = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
  int64_t n_tok_tiles = (n_tokens + kTokensPerTile - 1) / kTokensPerTile;
  pool.parallel_for(n_row_tasks * n_tok_tiles, [&](int64_t task, int) {
    int64_t r0 = (task % n_row_tasks) * kRowsPerTask, r1 = std::min(w.rows, r0 + kRowsPerTask);
    int64_t t0 = (task / n_row_tasks) * kTokensPerTile, t1 = std::min(n_tokens, t0 + kTokensPerTile);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.data + r * w.row_stride;
      for (int64_t t = t0; t < t1; ++t) out[t * out_stride + r] = vec_dot(w.type, wr, x.row(t), w.cols);
    }
  });
}

}  // namespace nagare
