#include "kernels/matmul.h"

#include <algorithm>

#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "util/error.h"

namespace nagare {
namespace {
// Work per task: enough to amortize the hand-out, small enough to balance the threads.
constexpr int64_t kGroupsPerTask = 4;    // packed path: 64 weight rows ...
constexpr int64_t kTokensPerTask = 64;   // ... times up to 64 tokens
constexpr int64_t kRowsPerTask = 16;     // per-element path: weight rows per task
constexpr int64_t kTokensPerTile = 4;    // tokens sharing a weight row while it sits in L1
}  // namespace

void pack_for_gemm(WeightMatrix& w) {
  if (w.packed || !can_pack(w.type) || active_kernels().gemm_fn(w.type) == nullptr) return;
  w.packed = std::make_shared<const PackedWeights>(w.type, w.data, w.rows, w.cols, w.row_stride);
}

void QuantizedActivations::quantize(GgmlType act, const float* x, int64_t n_tokens, int64_t cols,
                                    int64_t x_stride, ThreadPool& pool) {
  act_type_ = act;
  cols_ = cols;
  row_bytes_ = nagare::row_bytes(act, cols);
  extra_bytes_ = act_extra_bytes(act, cols);
  if (buffer_.size() < row_bytes_ * size_t(n_tokens)) buffer_.resize(row_bytes_ * size_t(n_tokens));
  if (extras_.size() < extra_bytes_ * size_t(n_tokens)) extras_.resize(extra_bytes_ * size_t(n_tokens));
  if (act == GgmlType::F32) {
    for (int64_t t = 0; t < n_tokens; ++t)
      std::copy(x + t * x_stride, x + t * x_stride + cols, reinterpret_cast<float*>(buffer_.data() + t * row_bytes_));
    return;
  }
  const QuantizeRowFn fn = quantize_row_fn(act);
  if (fn == nullptr || cols % block_elements(act) != 0) {
    quantize_row(act, x, buffer_.data(), cols);  // throws the usual message
    return;
  }
  pool.parallel_for(n_tokens, [&](int64_t t, int) {
    uint8_t* row = buffer_.data() + t * row_bytes_;
    fn(x + t * x_stride, row, cols);
    if (extra_bytes_) compute_act_extras(act, row, extras_.data() + t * extra_bytes_, cols);
  });
}

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool) {
  matmul(w, x, n_tokens, out, out_stride, pool, active_kernels());
}

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool, const KernelTable& kernels) {
  if (x.act_type() != activation_type_for(w.type) || x.cols() != w.cols) throw Error("matmul: activations quantized for another weight");
  if (n_tokens <= 0 || w.rows <= 0) return;
  const GemmFn gemm = w.packed ? kernels.gemm_fn(w.type) : nullptr;
  if (gemm != nullptr) {
    const PackedWeights& p = *w.packed;
    const GemmWeightsView wv{p.group(0), p.layout().group_bytes, p.layout(), p.rows(), p.cols() / p.layout().block_elements};
    const GemmActView xv{static_cast<const uint8_t*>(x.row(0)), x.row_bytes(), x.extras(0), x.extra_bytes()};
    const int64_t n_group_tasks = (p.groups() + kGroupsPerTask - 1) / kGroupsPerTask;
    const int64_t n_token_tasks = (n_tokens + kTokensPerTask - 1) / kTokensPerTask;
    pool.parallel_for(n_group_tasks * n_token_tasks, [&](int64_t task, int) {
      const int64_t g0 = (task % n_group_tasks) * kGroupsPerTask, g1 = std::min(p.groups(), g0 + kGroupsPerTask);
      const int64_t t0 = (task / n_group_tasks) * kTokensPerTask, t1 = std::min(n_tokens, t0 + kTokensPerTask);
      gemm(wv, g0, g1, xv, t0, t1, out, out_stride);
    });
    return;
  }
  const VecDotFn dot = kernels.vec_dot_fn(w.type);
  if (dot == nullptr || w.cols % block_elements(w.type) != 0) {
    vec_dot(w.type, w.data, x.row(0), w.cols);  // throws the usual message
    return;
  }
  const int64_t n_row_tasks = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t n_tok_tiles = (n_tokens + kTokensPerTile - 1) / kTokensPerTile;
  pool.parallel_for(n_row_tasks * n_tok_tiles, [&](int64_t task, int) {
    const int64_t r0 = (task % n_row_tasks) * kRowsPerTask, r1 = std::min(w.rows, r0 + kRowsPerTask);
    const int64_t t0 = (task / n_row_tasks) * kTokensPerTile, t1 = std::min(n_tokens, t0 + kTokensPerTile);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.data + r * w.row_stride;
      for (int64_t t = t0; t < t1; ++t) out[t * out_stride + r] = dot(wr, x.row(t), w.cols);
    }
  });
}

}  // namespace nagare
