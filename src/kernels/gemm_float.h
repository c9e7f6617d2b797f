// Float-weight (F32, F16, BF16) matmul kernels against F32 activations, written once against a
// float vector traits struct FV and compiled per SIMD ISA: by gemm_avx2.cc and gemm_avx512.cc
// (the 8 lanes of a dot in one 256-bit vector) and gemm_neon.cc (in two 4-lane vectors).
// Include only from those files, inside `namespace nagare { namespace {` after FV is defined, so
// nothing here has external linkage.
//
// Every dot product is one fixed sequence of float operations, the one kernels/quant.cc's scalar
// reference spells out: 8 lanes, lane l the fused multiply-adds of elements l, l + 8, l + 16, ...
// in order (the last partial 8 as if padded with zeros, which leaves the lanes unchanged), then
// the lanes folded in halves (lane l plus lane l + 4, then + 2, + 1). The tiles only choose how
// many weight rows and tokens share each loaded vector, so a result does not depend on the tile,
// the batch or the ISA. Eight lanes, not sixteen, so that a lane set is one AVX2 register and a
// tile can hold 4 x 3 accumulators and its operands in AVX2's 16 registers (7 loads per 12
// multiply-adds; sixteen lanes left 2 x 3 tiles reading an operand from memory for every
// multiply-add, 0.5x the speed on Zen 3).
//
// The weights are read where the model file keeps them (no packed copy): one row per dot.

template <GgmlType kType>
inline typename FV::F load_weights(const uint8_t* row, int64_t i) {
  if constexpr (kType == GgmlType::F32) return FV::load_f32(reinterpret_cast<const float*>(row) + i);
  else if constexpr (kType == GgmlType::F16) return FV::load_f16(reinterpret_cast<const uint16_t*>(row) + i);
  else return FV::load_bf16(reinterpret_cast<const uint16_t*>(row) + i);
}

template <GgmlType kType>
constexpr size_t float_elem_bytes() {
  return kType == GgmlType::F32 ? 4 : 2;
}

// out[r * os_r + t * os_t] = dot(w[r], a[t]) for R rows and T tokens of n elements.
template <GgmlType kType, int R, int T>
void float_tile(const uint8_t* const* w, const float* const* a, int64_t n, float* out, int64_t os_r, int64_t os_t) {
  using F = typename FV::F;
  constexpr int K = FV::kVecs, L = FV::kLanes;  // K vectors of L lanes hold the 8 lanes
  F acc[R][T][K];
  for (auto& row : acc)
    for (auto& tok : row)
      for (auto& v : tok) v = FV::zero();
  // Elements [i, i + 8) of every row and token, each loaded once. A single token's rows are all
  // loaded first (decode: more weight loads in flight while they come from memory); otherwise
  // the tokens' first, then a row's weights at a time with their products (R * T accumulators
  // and T + 1 operand vectors in registers).
  auto step = [&](const uint8_t* const* wr, const float* const* ar, int64_t i) {
    F av[T][K];
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < K; ++k) av[t][k] = FV::load_f32(ar[t] + i + k * L);
    if constexpr (T == 1) {
      F wv[R][K];
      for (int r = 0; r < R; ++r)
        for (int k = 0; k < K; ++k) wv[r][k] = load_weights<kType>(wr[r], i + k * L);
      for (int r = 0; r < R; ++r)
        for (int k = 0; k < K; ++k) acc[r][0][k] = FV::fma(wv[r][k], av[0][k], acc[r][0][k]);
    } else {
      for (int r = 0; r < R; ++r)
        for (int k = 0; k < K; ++k) {
          const F wv = load_weights<kType>(wr[r], i + k * L);
          for (int t = 0; t < T; ++t) acc[r][t][k] = FV::fma(wv, av[t][k], acc[r][t][k]);
        }
    }
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) step(w, a, i);
  if (i < n) {  // the last partial 8, zero-padded
    constexpr size_t E = float_elem_bytes<kType>();
    alignas(32) uint8_t wpad[R][8 * E] = {};
    alignas(32) float apad[T][8] = {};
    const uint8_t* wp[R];
    const float* ap[T];
    for (int r = 0; r < R; ++r) {
      std::memcpy(wpad[r], w[r] + i * E, size_t(n - i) * E);
      wp[r] = wpad[r];
    }
    for (int t = 0; t < T; ++t) {
      std::memcpy(apad[t], a[t] + i, size_t(n - i) * sizeof(float));
      ap[t] = apad[t];
    }
    step(wp, ap, 0);
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r * os_r + t * os_t] = FV::fold8(acc[r][t]);
}

template <GgmlType kType>
float vec_dot_lanes(const void* w, const void* a, int64_t n) {
  const uint8_t* wr = static_cast<const uint8_t*>(w);
  const float* ar = static_cast<const float*>(a);
  float out;
  float_tile<kType, 1, 1>(&wr, &ar, n, &out, 0, 0);
  return out;
}

using FloatTileFn = void (*)(const uint8_t* const*, const float* const*, int64_t, float*, int64_t, int64_t);

template <GgmlType kType>
struct FloatTiles {
  FloatTileFn fn[FV::kRows][FV::kTokens] = {};
  FloatTileFn gemv[FV::kGemvRows] = {};
  constexpr FloatTiles() {
    fill<0>();
    fill_gemv<0>();
  }
  template <int N>
  constexpr void fill() {
    if constexpr (N < FV::kRows * FV::kTokens) {
      fn[N / FV::kTokens][N % FV::kTokens] = &float_tile<kType, N / FV::kTokens + 1, N % FV::kTokens + 1>;
      fill<N + 1>();
    }
  }
  template <int N>
  constexpr void fill_gemv() {
    if constexpr (N < FV::kGemvRows) {
      gemv[N] = &float_tile<kType, N + 1, 1>;
      fill_gemv<N + 1>();
    }
  }
};

// kernels/gemm.h's GemmFn for float weights, over the weight rows as the file keeps them: the
// view's group g is rows 16g .. 16g + 15, w.group_bytes / 16 bytes apart; w.blocks is the row's
// element count; the activation rows are floats.
template <GgmlType kType>
void gemm_float(const GemmWeightsView& w, int64_t g0, int64_t g1, const GemmActView& x, int64_t t0, int64_t t1,
                float* out, int64_t os) {
  static constexpr FloatTiles<kType> tiles;
  const size_t stride = w.group_bytes / kGemmRows;
  const int64_t n = w.blocks, r0 = g0 * kGemmRows, r1 = std::min(w.rows, g1 * kGemmRows);
  const uint8_t* rows[FV::kGemvRows > FV::kRows ? FV::kGemvRows : FV::kRows];
  const float* acts[FV::kTokens];
  if (t1 - t0 == 1) {  // decode: more rows in flight while the weights stream from memory
    acts[0] = reinterpret_cast<const float*>(x.rows + size_t(t0) * x.row_bytes);
    // A tile's rows are `step` apart, so each continues where its predecessor in the previous
    // tile ended: the tile reads kGemvRows ascending streams in regions of their own, which the
    // hardware prefetchers follow. Adjacent short rows interleave their streams within the same
    // pages instead (a 576-element F16 matrix then streamed at half the bandwidth).
    const int64_t n_rows = r1 - r0, step = (n_rows + FV::kGemvRows - 1) / FV::kGemvRows;
    for (int64_t i = 0; i < step; ++i) {
      int rn = 0;
      for (int64_t r = i; rn < FV::kGemvRows && r < n_rows; r += step) rows[rn++] = w.data + size_t(r0 + r) * stride;
      tiles.gemv[rn - 1](rows, acts, n, out + t0 * os + r0 + i, step, os);
    }
    return;
  }
  // A token tile's activations stay in L1 while the task's weight rows stream past them.
  for (int64_t t = t0, tn = 0; t < t1; t += tn) {
    // A run that would end in a one-token tile (half the speed) ends in two shorter ones.
    const int64_t left = t1 - t;
    tn = left == FV::kTokens + 1 ? FV::kTokens - 1 : std::min<int64_t>(FV::kTokens, left);
    for (int k = 0; k < tn; ++k) acts[k] = reinterpret_cast<const float*>(x.rows + size_t(t + k) * x.row_bytes);
    for (int64_t r = r0; r < r1; r += FV::kRows) {
      const int rn = int(std::min<int64_t>(FV::kRows, r1 - r));
      for (int k = 0; k < rn; ++k) rows[k] = w.data + size_t(r + k) * stride;
      tiles.fn[rn - 1][tn - 1](rows, acts, n, out + t * os + r, 1, os);
    }
  }
}

void register_float_kernels(KernelTable& k) {
  k.vec_dot[int(GgmlType::F32)] = vec_dot_lanes<GgmlType::F32>;
  k.vec_dot[int(GgmlType::F16)] = vec_dot_lanes<GgmlType::F16>;
  k.vec_dot[int(GgmlType::BF16)] = vec_dot_lanes<GgmlType::BF16>;
  k.gemm[int(GgmlType::F32)] = gemm_float<GgmlType::F32>;
  k.gemm[int(GgmlType::F16)] = gemm_float<GgmlType::F16>;
  k.gemm[int(GgmlType::BF16)] = gemm_float<GgmlType::BF16>;
}
