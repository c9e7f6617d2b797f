// Weight-matrix times activations: out[t][r] = dot(W row r, x[t]) for a batch of tokens.
// Each output element is computed by one fixed sequence of operations over the whole row
// (exact integer block sums, then one float order), whatever the batch size, the token's place
// in the batch, the tiling or the thread count: a token's result never depends on its batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "gguf/ggml_type.h"
#include "util/thread_pool.h"

namespace nagare {

class PackedWeights;  // kernels/gemm.h
class PackedArena;    // kernels/gemm.h
struct KernelTable;   // kernels/dispatch.h

// A 2-D weight in GGUF layout: `rows` rows of `cols` contiguous elements of `type`.
struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_stride = 0;  // bytes per row
  // Row-interleaved copy for the SIMD tile kernels, made by pack_for_gemm(); without it
  // matmul() takes one vec_dot per output element (same results, slower). Float weights
  // (F32/F16/BF16) need none: their tiles read the rows where they are.
  std::shared_ptr<const PackedWeights> packed;
};

// Makes w.packed when the active ISA has tile kernels for w.type; otherwise does nothing.
// Costs one copy of the weight (the GGUF data is no longer read by matmul afterwards), taken
// from `arena` when given (see PackedArena in kernels/gemm.h).
void pack_for_gemm(WeightMatrix& w, const std::shared_ptr<PackedArena>& arena = nullptr);
// The bytes pack_for_gemm(w) takes; 0 when it would not pack w.
size_t packed_bytes_for(const WeightMatrix& w);

// Activations of a batch quantized once into one activation format (see activation_type_for);
// every weight whose dot product takes that format can then be multiplied with them.
class QuantizedActivations {
 public:
  // x: n_tokens rows of `cols` floats with row stride x_stride (in floats).
  void quantize(GgmlType act_type, const float* x, int64_t n_tokens, int64_t cols, int64_t x_stride,
                ThreadPool& pool);
  // The same in two steps, for callers that produce the rows in their own pass of the pool:
  // resize() once (throws for a format or width that cannot be quantized), then quantize_row()
  // for every row t, from any thread (rows are independent).
  void resize(GgmlType act_type, int64_t n_tokens, int64_t cols);
  void quantize_row(int64_t t, const float* x);
  // Columns [c0, c1) of rows [t0, t1) only, element (t, c) read from x[t * x_stride + c], for
  // callers that produce rows in pieces: c0 a multiple of elements_per_block(), c1 too or cols().
  // The same bytes as quantize_row, since every block is quantized on its own; the pieces'
  // blocks are quantized together, so short pieces cost no more per block than whole rows.
  void quantize_cols(const float* x, int64_t x_stride, int64_t t0, int64_t t1, int64_t c0, int64_t c1);
  // Row t becomes a copy of row src_t of `src` (side data included): gathers the tokens routed
  // to one expert (mixture of experts) without quantizing them again. Same format and width
  // after resize(); from any thread, as quantize_row.
  void copy_row(int64_t t, const QuantizedActivations& src, int64_t src_t);
  int64_t elements_per_block() const { return block_; }
  const void* row(int64_t t) const { return buffer_.data() + t * row_bytes_; }
  GgmlType act_type() const { return act_type_; }
  int64_t cols() const { return cols_; }
  size_t row_bytes() const { return row_bytes_; }
  // Per-block side data of row t for the tile kernels (kernels/gemm.h); empty for float formats.
  const uint8_t* extras(int64_t t) const { return extras_.data() + t * extra_bytes_; }
  size_t extra_bytes() const { return extra_bytes_; }

 private:
  std::vector<uint8_t> buffer_;  // grow to the largest batch seen, then are reused
  std::vector<uint8_t> extras_;
  size_t row_bytes_ = 0, extra_bytes_ = 0;
  GgmlType act_type_ = GgmlType::F32;
  void (*quantize_fn_)(const float*, void*, int64_t) = nullptr;  // the active ISA's, for act_type_
  void (*quantize_act_fn_)(const float*, void*, void*, int64_t) = nullptr;  // with the extras, if any
  int64_t cols_ = 0, block_ = 1;
  // n elements of x (whole blocks) into the blocks at out, their side data at extras.
  void quantize_blocks(const float* x, uint8_t* out, uint8_t* extras, int64_t n) const;
};

// One weight, its activations and its output: a part of a fused matmul call.
struct MatmulJob {
  const WeightMatrix* w = nullptr;
  const QuantizedActivations* x = nullptr;
  float* out = nullptr;
  int64_t out_stride = 0;
  int64_t n_tokens = -1;  // this job's own token count (each expert of a MoE layer has its own); -1: the call's
};

// Several matmuls (e.g. q, k and v, or every active expert of a MoE layer) in one pass of the
// pool: one wait instead of several, and the threads balance over all of them. Each output as
// matmul() gives. Any number of jobs; no allocation once the largest count has been seen.
void matmul(const MatmulJob* jobs, int n_jobs, int64_t n_tokens, ThreadPool& pool);

// Two matmuls with the same number of rows over the same tokens (a gated FFN's gate and up) in
// one pass of the pool: each task computes the same rows [r0, r1) of both for tokens [t0, t1)
// and then calls done(r0, r1, t0, t1), while those outputs are still in cache (the caller
// combines them and quantizes the result for the next matmul there, which saves that work a
// pass of its own). r0 is a multiple of `align` (a multiple of 16), r1 too or the row count.
// Each output as matmul() gives. Not reentrant (a pass of the pool).
using PairDoneFn = void (*)(void* ctx, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
void matmul_pair(const MatmulJob& a, const MatmulJob& b, int64_t n_tokens, int64_t align, ThreadPool& pool,
                 PairDoneFn done, void* ctx);
template <typename Done>
void matmul_pair(const MatmulJob& a, const MatmulJob& b, int64_t n_tokens, int64_t align, ThreadPool& pool,
                 Done&& done) {
  using D = std::remove_reference_t<Done>;
  matmul_pair(a, b, n_tokens, align, pool,
              [](void* d, int64_t r0, int64_t r1, int64_t t0, int64_t t1) { (*static_cast<D*>(d))(r0, r1, t0, t1); },
              const_cast<void*>(static_cast<const void*>(std::addressof(done))));
}
// The tasks matmul_pair makes for `rows` rows: a caller with too few to keep its threads busy
// is better served by matmul() and a pass of its own.
int64_t matmul_pair_tasks(int64_t rows, int64_t n_tokens, int64_t align, int n_threads);

// out[t * out_stride + r] for r in [0, w.rows), t in [0, n_tokens), with the active ISA's kernels.
void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool);
// The same with a given ISA's kernels (tests compare the ISAs).
void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool, const KernelTable& kernels);

}  // namespace nagare
