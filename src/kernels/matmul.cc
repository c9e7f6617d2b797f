#include "kernels/matmul.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

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

size_t packed_bytes_for(const WeightMatrix& w) {
  if (w.packed || !can_pack(w.type) || active_kernels().gemm_fn(w.type) == nullptr) return 0;
  return packed_bytes(w.type, w.rows, w.cols);
}

void pack_for_gemm(WeightMatrix& w, const std::shared_ptr<PackedArena>& arena) {
  if (packed_bytes_for(w) == 0) return;
  w.packed = std::make_shared<const PackedWeights>(w.type, w.data, w.rows, w.cols, w.row_stride, arena);
}

void QuantizedActivations::quantize(GgmlType act, const float* x, int64_t n_tokens, int64_t cols,
                                    int64_t x_stride, ThreadPool& pool) {
  resize(act, n_tokens, cols);
  pool.parallel_for(n_tokens, [&](int64_t t, int) { quantize_row(t, x + t * x_stride); });
}

void QuantizedActivations::resize(GgmlType act, int64_t n_tokens, int64_t cols) {
  if (act != GgmlType::F32) {
    quantize_fn_ = quantize_row_fn(act);
    quantize_act_fn_ = active_kernels().quantize_act_fn(act);
    // The checked entry point throws its usual message (before touching any memory).
    if (quantize_fn_ == nullptr || cols % block_elements(act) != 0) nagare::quantize_row(act, nullptr, nullptr, cols);
  }
  act_type_ = act;
  cols_ = cols;
  block_ = block_elements(act);
  row_bytes_ = nagare::row_bytes(act, cols);
  extra_bytes_ = act_extra_bytes(act, cols);
  if (buffer_.size() < row_bytes_ * size_t(n_tokens)) buffer_.resize(row_bytes_ * size_t(n_tokens));
  if (extras_.size() < extra_bytes_ * size_t(n_tokens)) extras_.resize(extra_bytes_ * size_t(n_tokens));
}

void QuantizedActivations::quantize_blocks(const float* x, uint8_t* out, uint8_t* extras, int64_t n) const {
  if (act_type_ == GgmlType::F32) {
    std::copy(x, x + n, reinterpret_cast<float*>(out));
  } else if (quantize_act_fn_) {
    quantize_act_fn_(x, out, extras, n);
  } else {
    quantize_fn_(x, out, n);
    if (extra_bytes_) compute_act_extras(act_type_, out, extras, n);
  }
}

void QuantizedActivations::quantize_row(int64_t t, const float* x) {
  quantize_blocks(x, buffer_.data() + t * row_bytes_, extras_.data() + t * extra_bytes_, cols_);
}

void QuantizedActivations::quantize_cols(const float* x, int64_t x_stride, int64_t t0, int64_t t1, int64_t c0, int64_t c1) {
  if (c0 % block_ != 0 || (c1 % block_ != 0 && c1 != cols_) || c0 < 0 || c1 > cols_ || c0 > c1)
    throw Error("quantize_cols: columns off the activation blocks");
  if (c0 == c1 || t0 >= t1) return;
  // Every format's row is its blocks in order, and its side data one record per block.
  const int64_t blocks = cols_ / block_, b0 = c0 / block_, width = c1 - c0;
  const size_t block_bytes = row_bytes_ / size_t(blocks), extra_block = extra_bytes_ / size_t(blocks);
  auto out = [&](int64_t t) { return buffer_.data() + t * row_bytes_ + size_t(b0) * block_bytes; };
  auto extras = [&](int64_t t) { return extras_.data() + t * extra_bytes_ + size_t(b0) * extra_block; };
  if (quantize_act_fn_ == nullptr || t1 - t0 == 1) {
    for (int64_t t = t0; t < t1; ++t) quantize_blocks(x + t * x_stride + c0, out(t), extras(t), width);
    return;
  }
  // The one-pass quantizer works on many blocks at once (16 side by side on AVX-512): the
  // pieces of all rows go through it as one run, then their bytes go to their rows.
  thread_local std::vector<float> in;
  thread_local std::vector<uint8_t> quants, side;
  const int64_t n = t1 - t0;
  const size_t piece_bytes = size_t(width / block_) * block_bytes, piece_extras = size_t(width / block_) * extra_block;
  in.resize(size_t(n * width));
  quants.resize(size_t(n) * piece_bytes);
  side.resize(size_t(n) * piece_extras);
  for (int64_t t = t0; t < t1; ++t) std::copy(x + t * x_stride + c0, x + t * x_stride + c1, in.data() + (t - t0) * width);
  quantize_act_fn_(in.data(), quants.data(), side.data(), n * width);
  for (int64_t t = t0; t < t1; ++t) {
    std::memcpy(out(t), quants.data() + size_t(t - t0) * piece_bytes, piece_bytes);
    std::memcpy(extras(t), side.data() + size_t(t - t0) * piece_extras, piece_extras);
  }
}

void QuantizedActivations::copy_row(int64_t t, const QuantizedActivations& src, int64_t src_t) {
  std::memcpy(buffer_.data() + t * row_bytes_, src.row(src_t), row_bytes_);
  if (extra_bytes_) std::memcpy(extras_.data() + t * extra_bytes_, src.extras(src_t), extra_bytes_);
}

namespace {

// One job cut into tasks: packed groups x token ranges, or rows x token tiles of vec_dot.
class JobTasks {
 public:
  JobTasks(const MatmulJob& job, int64_t n_tokens, int n_threads, const KernelTable& kernels)
      : job_(job), n_tokens_(job.n_tokens >= 0 ? job.n_tokens : n_tokens) {
    const WeightMatrix& w = *job.w;
    const QuantizedActivations& x = *job.x;
    if (x.act_type() != activation_type_for(w.type) || x.cols() != w.cols) throw Error("matmul: activations quantized for another weight");
    // A type without a packed layout whose ISA has tile kernels (the float weights,
    // kernels/gemm_float.h) takes them where the file keeps the rows: groups of 16 rows.
    const bool file_rows = !w.packed && !can_pack(w.type);
    gemm_ = w.packed || file_rows ? kernels.gemm_fn(w.type) : nullptr;
    if (gemm_ != nullptr) {
      if (file_rows) {
        wv_ = GemmWeightsView{w.data, w.row_stride * kGemmRows, PackedLayout{}, w.rows, w.cols};
      } else {
        const PackedWeights& p = *w.packed;
        wv_ = GemmWeightsView{p.group(0), p.layout().group_bytes, p.layout(), p.rows(), p.cols() / p.layout().block.elements};
      }
      xv_ = GemmActView{static_cast<const uint8_t*>(x.row(0)), x.row_bytes(), x.extras(0), x.extra_bytes()};
      groups_ = (w.rows + kGemmRows - 1) / kGemmRows;
      // Small matrices in smaller pieces, so every thread gets a share.
      groups_per_task_ = std::clamp<int64_t>(groups_ / (4 * int64_t(n_threads)), 1, kGroupsPerTask);
      row_tasks_ = (groups_ + groups_per_task_ - 1) / groups_per_task_;
      token_tasks_ = (n_tokens_ + kTokensPerTask - 1) / kTokensPerTask;
      return;
    }
    dot_ = kernels.vec_dot_fn(w.type);
    if (dot_ == nullptr || w.cols % block_elements(w.type) != 0) vec_dot(w.type, w.data, x.row(0), w.cols);  // throws
    row_tasks_ = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
    token_tasks_ = (n_tokens_ + kTokensPerTile - 1) / kTokensPerTile;
  }

  int64_t size() const { return job_.w->rows > 0 && n_tokens_ > 0 ? row_tasks_ * token_tasks_ : 0; }

  void run(int64_t task) const {
    if (gemm_ != nullptr) {
      const int64_t g0 = (task % row_tasks_) * groups_per_task_, g1 = std::min(groups_, g0 + groups_per_task_);
      const int64_t t0 = (task / row_tasks_) * kTokensPerTask, t1 = std::min(n_tokens_, t0 + kTokensPerTask);
      gemm_(wv_, g0, g1, xv_, t0, t1, job_.out, job_.out_stride);
      return;
    }
    const int64_t r0 = (task % row_tasks_) * kRowsPerTask, r1 = std::min(job_.w->rows, r0 + kRowsPerTask);
    const int64_t t0 = (task / row_tasks_) * kTokensPerTile, t1 = std::min(n_tokens_, t0 + kTokensPerTile);
    run_rows(r0, r1, t0, t1);
  }

  // Rows [r0, r1) for tokens [t0, t1); r0 a multiple of kGemmRows.
  void run_rows(int64_t r0, int64_t r1, int64_t t0, int64_t t1) const {
    const WeightMatrix& w = *job_.w;
    if (gemm_ != nullptr) {
      gemm_(wv_, r0 / kGemmRows, (r1 + kGemmRows - 1) / kGemmRows, xv_, t0, t1, job_.out, job_.out_stride);
      return;
    }
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.data + r * w.row_stride;
      for (int64_t t = t0; t < t1; ++t) job_.out[t * job_.out_stride + r] = dot_(wr, job_.x->row(t), w.cols);
    }
  }

 private:
  MatmulJob job_;
  int64_t n_tokens_;
  GemmFn gemm_ = nullptr;
  VecDotFn dot_ = nullptr;
  GemmWeightsView wv_{};
  GemmActView xv_{};
  int64_t groups_ = 0, groups_per_task_ = 1, row_tasks_ = 0, token_tasks_ = 0;
};

void run_jobs(const MatmulJob* jobs, int n_jobs, int64_t n_tokens, ThreadPool& pool, const KernelTable& kernels) {
  // The calling thread's (one engine loop drives a model): reused, so no allocation per call.
  // Named through references, which the workers' lambda captures: a thread_local named inside
  // the lambda would be each worker's own.
  thread_local std::vector<JobTasks> thread_parts;
  thread_local std::vector<int64_t> thread_first;
  std::vector<JobTasks>& parts = thread_parts;
  std::vector<int64_t>& first = thread_first;
  parts.clear();
  first.assign(1, 0);
  for (int j = 0; j < n_jobs; ++j) {
    parts.emplace_back(jobs[j], n_tokens, pool.size(), kernels);
    first.push_back(first.back() + parts.back().size());
  }
  pool.parallel_for(first.back(), [&](int64_t task, int) {
    // The job holding this task: jobs are few except for MoE layers, where a binary search pays.
    const int j = int(std::upper_bound(first.begin(), first.end(), task) - first.begin()) - 1;
    parts[j].run(task - first[j]);
  });
  static_assert(std::is_trivially_destructible_v<JobTasks>);
}

// matmul_pair's cut: rows in multiples of `align`, up to a packed task's 64 rows (more when
// align is larger), fewer where that leaves each thread fewer than four; tokens as matmul's.
struct PairTasks {
  int64_t rows_per_task, row_tasks, token_tasks;
  PairTasks(int64_t rows, int64_t n_tokens, int64_t align, int n_threads) {
    const int64_t units = (rows + align - 1) / align;
    const int64_t max_units = std::max<int64_t>(1, kGroupsPerTask * kGemmRows / align);
    rows_per_task = align * std::clamp<int64_t>(units / (4 * int64_t(n_threads)), 1, max_units);
    row_tasks = (rows + rows_per_task - 1) / rows_per_task;
    token_tasks = (n_tokens + kTokensPerTask - 1) / kTokensPerTask;
  }
};

}  // namespace

int64_t matmul_pair_tasks(int64_t rows, int64_t n_tokens, int64_t align, int n_threads) {
  const PairTasks p(rows, n_tokens, align, n_threads);
  return p.row_tasks * p.token_tasks;
}

void matmul_pair(const MatmulJob& a, const MatmulJob& b, int64_t n_tokens, int64_t align, ThreadPool& pool,
                 PairDoneFn done, void* ctx) {
  if (a.w->rows != b.w->rows) throw Error("matmul_pair: the two matrices differ in rows");
  if (align <= 0 || align % kGemmRows != 0) throw Error("matmul_pair: rows must be cut at multiples of 16");
  const int64_t rows = a.w->rows;
  if (rows == 0 || n_tokens <= 0) return;
  const KernelTable& kernels = active_kernels();
  const JobTasks ta(a, n_tokens, pool.size(), kernels), tb(b, n_tokens, pool.size(), kernels);
  const PairTasks p(rows, n_tokens, align, pool.size());
  pool.parallel_for(p.row_tasks * p.token_tasks, [&](int64_t task, int) {
    const int64_t r0 = (task % p.row_tasks) * p.rows_per_task, r1 = std::min(rows, r0 + p.rows_per_task);
    const int64_t t0 = (task / p.row_tasks) * kTokensPerTask, t1 = std::min(n_tokens, t0 + kTokensPerTask);
    ta.run_rows(r0, r1, t0, t1);
    tb.run_rows(r0, r1, t0, t1);
    done(ctx, r0, r1, t0, t1);
  });
}

void matmul(const MatmulJob* jobs, int n_jobs, int64_t n_tokens, ThreadPool& pool) {
  run_jobs(jobs, n_jobs, n_tokens, pool, active_kernels());
}

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool) {
  const MatmulJob job{&w, &x, out, out_stride};
  run_jobs(&job, 1, n_tokens, pool, active_kernels());
}

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool, const KernelTable& kernels) {
  const MatmulJob job{&w, &x, out, out_stride};
  run_jobs(&job, 1, n_tokens, pool, kernels);
}

}  // namespace nagare
