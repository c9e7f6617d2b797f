// Float row operations of kernels/ops.h for x86 with 256-bit vectors, compiled by quant_avx2.cc
// and quant_avx512.cc. Each computes exactly what the scalar code in ops.cc computes (the same
// lanes, the same products and sums in the same order, fused multiply-adds exactly where it calls
// std::fma), so every ISA gives the same bits.
// Include only from those files, inside `namespace nagare { namespace {`.

inline float sum_lanes_pairwise(__m256 acc) {
  alignas(32) float l[8];
  _mm256_store_ps(l, acc);
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

inline __m256 load8_half(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Eight running sums (element i in lane i mod 8), combined pairwise, then the tail in order.
float op_dot_f32(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  float sum = sum_lanes_pairwise(acc);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float op_dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8_half(b + i), acc);
  float sum = sum_lanes_pairwise(acc);
  for (; i < n; ++i) sum = std::fma(a[i], _cvtsh_ss(b[i]), sum);
  return sum;
}

void op_axpy_f16(float* y, float w, const uint16_t* x, int64_t n) {
  const __m256 wv = _mm256_set1_ps(w);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(wv, load8_half(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(w, _cvtsh_ss(x[i]), y[i]);
}

void op_axpy_f32(float* y, float w, const float* x, int64_t n) {
  const __m256 wv = _mm256_set1_ps(w);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(w, x[i], y[i]);
}

inline __m256 load8(const uint16_t* p) { return load8_half(p); }
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline float to_float(uint16_t h) { return _cvtsh_ss(h); }
inline float to_float(float f) { return f; }

// Output elements [d, d + 8C) of axpy_rows_one_head (out and w at d's output and the first
// row's weight): C vectors in registers over all the runs' rows.
template <int C, typename T>
inline void axpy_rows_chunk(float* out, const float* w, const RowRun<T>* runs, int64_t n_runs, int64_t v_stride, int64_t d) {
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_loadu_ps(out + 8 * c);
  for (int64_t j = 0; j < n_runs; ++j) {
    const T* vr = runs[j].rows + d;
    for (int64_t r = 0; r < runs[j].count; ++r, vr += v_stride) {
      const __m256 wv = _mm256_set1_ps(*w++);
      for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_ps(wv, load8(vr + 8 * c), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

// out[j] = fma(w_i, v_i[j], out[j]) for the runs' rows i in order, output elements [d0, n), with
// half (a KV cache head) or float values (an encoder's, ops.h's axpy_f32_rows): each output
// chunk stays in registers over the rows, 64 elements at a time, then 32 (four independent
// chains, e.g. a head of 32), then 8.
template <typename T>
void axpy_rows_one_head(float* out, const float* w, const RowRun<T>* runs, int64_t n_runs, int64_t v_stride, int64_t d0,
                        int64_t n) {
  int64_t d = d0;
  for (; d + 64 <= n; d += 64) axpy_rows_chunk<8>(out + d, w, runs, n_runs, v_stride, d);
  if (d + 32 <= n) {
    axpy_rows_chunk<4>(out + d, w, runs, n_runs, v_stride, d);
    d += 32;
  }
  for (; d + 8 <= n; d += 8) axpy_rows_chunk<1>(out + d, w, runs, n_runs, v_stride, d);
  for (; d < n; ++d) {
    int64_t i = 0;
    for (int64_t j = 0; j < n_runs; ++j)
      for (int64_t r = 0; r < runs[j].count; ++r, ++i) out[d] = std::fma(w[i], to_float(runs[j].rows[r * v_stride + d]), out[d]);
  }
}

// The vector of the multi-head value kernel: 512 bits where the ISA has them, else 256.
#if defined(__AVX512F__)
struct ValueVec {
  using F = __m512;
  static constexpr int kWidth = 16;
  static F load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F x) { _mm512_storeu_ps(p, x); }
  static F set1(const float* p) { return _mm512_set1_ps(*p); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
};
#else
struct ValueVec {
  using F = __m256;
  static constexpr int kWidth = 8;
  static F load(const uint16_t* p) { return load8_half(p); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F x) { _mm256_storeu_ps(p, x); }
  static F set1(const float* p) { return _mm256_broadcast_ss(p); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
};
#endif

// H heads of a GQA group (or an encoder's query rows of one head) over the same value rows: each
// row's chunk of four vectors is loaded (and converted, if half) once for all H heads (4 H
// accumulators, H broadcasts and one value vector: H = 3 fills AVX2's 16 registers), and stays
// in registers over all the runs. Per element the same products and sums, in row order, as the
// single-head kernel.
template <int H, typename T>
void axpy_rows_heads(float* out, int64_t out_stride, const float* w, int64_t w_stride, const RowRun<T>* runs,
                     int64_t n_runs, int64_t v_stride, int64_t n) {
  using V = ValueVec;
  constexpr int64_t kChunk = 4 * V::kWidth;
  int64_t d = 0;
  for (; d + kChunk <= n; d += kChunk) {
    typename V::F acc[H][4];
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < 4; ++c) acc[h][c] = V::load(out + h * out_stride + d + V::kWidth * c);
    const float* wr = w;
    for (int64_t j = 0; j < n_runs; ++j) {
      const T* vr = runs[j].rows + d;
      for (int64_t r = 0; r < runs[j].count; ++r, vr += v_stride, ++wr) {
        typename V::F wv[H];
        for (int h = 0; h < H; ++h) wv[h] = V::set1(wr + h * w_stride);
        for (int c = 0; c < 4; ++c) {
          const typename V::F x = V::load(vr + V::kWidth * c);
          for (int h = 0; h < H; ++h) acc[h][c] = V::fma(wv[h], x, acc[h][c]);
        }
      }
    }
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < 4; ++c) V::store(out + h * out_stride + d + V::kWidth * c, acc[h][c]);
  }
  if (d < n)  // the rest of the row (head sizes that are not a multiple of the chunk)
    for (int h = 0; h < H; ++h) axpy_rows_one_head(out + h * out_stride, w + h * w_stride, runs, n_runs, v_stride, d, n);
}

// ops.h's axpy_f16_rows (T = uint16_t) and axpy_f32_rows (T = float).
template <typename T>
void op_axpy_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads, const RowRun<T>* runs,
                  int64_t n_runs, int64_t v_stride, int64_t n) {
  int64_t h = 0;
  for (; h + 3 <= n_heads; h += 3)
    axpy_rows_heads<3>(out + h * out_stride, out_stride, w + h * w_stride, w_stride, runs, n_runs, v_stride, n);
  if (n_heads - h == 2) axpy_rows_heads<2>(out + h * out_stride, out_stride, w + h * w_stride, w_stride, runs, n_runs, v_stride, n);
#if defined(__AVX512F__)
  if (n_heads - h == 1) axpy_rows_heads<1>(out + h * out_stride, out_stride, w + h * w_stride, w_stride, runs, n_runs, v_stride, n);
#else
  if (n_heads - h == 1) axpy_rows_one_head(out + h * out_stride, w + h * w_stride, runs, n_runs, v_stride, 0, n);
#endif
}

// Attention's scores (ops.h's dot_f32_f16_key_groups, dot_f32_key_groups): a lane per (row, key),
// the rows' R * 8G chains of fused multiply-adds run side by side over the elements; each
// element's eight keys of a group are loaded (and converted, if half) once for all R rows. Enough
// chains to hide the FMA latency, few enough to stay in registers (R * G accumulators, R
// broadcasts, one key vector).
struct KeyGroupTiles {
#if defined(__AVX512F__)
  static constexpr int kRows = 6;  // 32 registers: up to 24 accumulators
  template <int R> static constexpr int kGroups = R >= 5 ? 3 : R == 4 ? 5 : R == 3 ? 6 : 8;
#else
  // 16 registers: up to 12 accumulators. Three rows of four groups (12 chains, 6 cycles of FMAs
  // an element) beat four rows of two (8 chains, just the FMA latency: any stall shows) by ~8%.
  static constexpr int kRows = 3;
  template <int R> static constexpr int kGroups = R == 3 ? 4 : R == 2 ? 5 : 8;
#endif
  template <int R, int G, typename T>
  static void tile(const float* q, int64_t q_stride, const T* const* groups, int64_t stride, int64_t n, float scale,
                   float* out, int64_t out_stride) {
    // (In this form, with pointers stepped, GCC 12 keeps the accumulators in registers; indexing
    // q and the groups by e made it store them every step, and `= {}` zeroed a stack copy of
    // them with rep stos on every call, ~9% of the tile's time.)
    __m256 acc[R][G];
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < G; ++g) acc[r][g] = _mm256_setzero_ps();
    const float* qr[R];
    for (int r = 0; r < R; ++r) qr[r] = q + r * q_stride;
    const T* k[G];
    for (int g = 0; g < G; ++g) k[g] = groups[g];
    for (int64_t e = 0; e < n; ++e) {
      __m256 qe[R];
      for (int r = 0; r < R; ++r) qe[r] = _mm256_set1_ps(qr[r][e]);
      for (int g = 0; g < G; ++g) {
        const __m256 kv = load8(k[g]);
        k[g] += stride;
        for (int r = 0; r < R; ++r) acc[r][g] = _mm256_fmadd_ps(qe[r], kv, acc[r][g]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < G; ++g) _mm256_storeu_ps(out + r * out_stride + 8 * g, _mm256_mul_ps(acc[r][g], _mm256_set1_ps(scale)));
  }
};

#include "kernels/key_group_tiling.h"

// exp_glibc of ops.cc (kernels/expf_table.h), four at a time in double precision.
inline __m128 exp4(__m128 x) {
  using namespace expf_detail;
  const __m256d xd = _mm256_cvtps_pd(x);
  const __m256d inv = _mm256_set1_pd(kInvLn2N), shift = _mm256_set1_pd(kShift);
  const __m256d z = _mm256_fmadd_pd(inv, xd, shift);
  const __m256i ki = _mm256_castpd_si256(z);
  const __m256d kd = _mm256_sub_pd(z, shift);
  const __m256d r = _mm256_fmsub_pd(inv, xd, kd);
  const __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
  const __m256i t = _mm256_add_epi64(_mm256_i64gather_epi64(reinterpret_cast<const long long*>(kTable), idx, 8),
                                     _mm256_slli_epi64(ki, 47));
  const __m256d p = _mm256_fmadd_pd(_mm256_set1_pd(kC0), r, _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(kC2), r, _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(p, r2, y);
  __m128 e = _mm256_cvtpd_ps(_mm256_mul_pd(y, _mm256_castsi256_pd(t)));
  // The cases glibc takes off the fast path (-inf lands in the underflow one).
  e = _mm_blendv_ps(e, _mm_set1_ps(0x1p-149f), _mm_cmplt_ps(x, _mm_set1_ps(kTiny)));
  e = _mm_blendv_ps(e, _mm_setzero_ps(), _mm_cmplt_ps(x, _mm_set1_ps(kUnderflow)));
  e = _mm_blendv_ps(e, _mm_set1_ps(INFINITY), _mm_cmpgt_ps(x, _mm_set1_ps(kOverflow)));
  return _mm_blendv_ps(e, _mm_add_ps(x, x), _mm_cmpunord_ps(x, x));
}

#if defined(__AVX512F__)
// exp4's computation on eight lanes at once, with the table lookup done by two two-register
// permutes instead of a gather (gathers are microcoded and slow on AMD Zen 4): same bits.
inline __m256 exp8(__m256 x) {
  using namespace expf_detail;
  const __m512d xd = _mm512_cvtps_pd(x);
  const __m512d inv = _mm512_set1_pd(kInvLn2N), shift = _mm512_set1_pd(kShift);
  const __m512d z = _mm512_fmadd_pd(inv, xd, shift);
  const __m512i ki = _mm512_castpd_si512(z);
  const __m512d kd = _mm512_sub_pd(z, shift);
  const __m512d r = _mm512_fmsub_pd(inv, xd, kd);
  const __m512i idx = _mm512_and_si512(ki, _mm512_set1_epi64(31));
  const auto* table = reinterpret_cast<const __m512i*>(kTable);
  const __m512i lo = _mm512_permutex2var_epi64(_mm512_load_si512(table), idx, _mm512_load_si512(table + 1));
  const __m512i hi = _mm512_permutex2var_epi64(_mm512_load_si512(table + 2), idx, _mm512_load_si512(table + 3));
  const __m512i entry = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(idx, _mm512_set1_epi64(16)), lo, hi);
  const __m512i t = _mm512_add_epi64(entry, _mm512_slli_epi64(ki, 47));
  const __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(kC0), r, _mm512_set1_pd(kC1));
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(kC2), r, _mm512_set1_pd(1.0));
  y = _mm512_fmadd_pd(p, r2, y);
  __m256 e = _mm512_cvtpd_ps(_mm512_mul_pd(y, _mm512_castsi512_pd(t)));
  e = _mm256_blendv_ps(e, _mm256_set1_ps(0x1p-149f), _mm256_cmp_ps(x, _mm256_set1_ps(kTiny), _CMP_LT_OS));
  e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(kUnderflow), _CMP_LT_OS));
  e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(kOverflow), _CMP_GT_OS));
  return _mm256_blendv_ps(e, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}
#else
inline __m256 exp8(__m256 x) {
  return _mm256_set_m128(exp4(_mm256_extractf128_ps(x, 1)), exp4(_mm256_castps256_ps128(x)));
}
#endif

// The reference's sums, then the scaling eight lanes at a time (the same two products per element).
void op_rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) {
  ref::rms_norm_rows_with(x, y, n_rows, n, eps, [&](const float* xr, float* yr, float scale) {
    const __m256 sv = _mm256_set1_ps(scale);
    int64_t i = 0;
    if (weight) {
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), sv), _mm256_loadu_ps(weight + i)));
      for (; i < n; ++i) yr[i] = xr[i] * scale * weight[i];
    } else {
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_loadu_ps(xr + i), sv));
      for (; i < n; ++i) yr[i] = xr[i] * scale;
    }
  });
}

// Lane-wise maxima, then across lanes: max is exact, so any order gives the scalar's value
// (max_ps returns its second operand, the running max, where x is NaN).
float op_max_f32(const float* x, int64_t n, float init) {
  int64_t i = 0;
  float m = init;
#if defined(__AVX512F__)
  if (n >= 16) {
    __m512 acc = _mm512_set1_ps(init);
    for (; i + 16 <= n; i += 16) acc = _mm512_max_ps(_mm512_loadu_ps(x + i), acc);
    m = _mm512_reduce_max_ps(acc);
  }
#else
  if (n >= 8) {
    __m256 acc = _mm256_set1_ps(init);
    for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_loadu_ps(x + i), acc);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    for (float v : lanes) m = v > m ? v : m;
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// ref::exp_softmax (kernels/softmax_exp.h) on N vectors of eight lanes, operation for operation.
// Each step is taken for all N before the next: the exponential is a chain of ~20 dependent
// operations (~50 cycles), and one vector at a time kept the out-of-order window full of
// waiting operations (19 cycles a vector on Zen 3); N chains side by side fill the pipes.
// kInRange: the caller has checked that every lane lies in [kMin, kMax] (not NaN), where the
// clamp and the special cases change nothing, so they are left out.
template <int N, bool kInRange = false>
inline void exp8_softmax(__m256* x) {
  using namespace softmax_exp_detail;
  __m256 xc[N], n[N], r[N], p[N];
  for (int j = 0; j < N; ++j)
    xc[j] = kInRange ? x[j] : _mm256_min_ps(_mm256_max_ps(x[j], _mm256_set1_ps(kMin)), _mm256_set1_ps(kMax));
  // n + kRound, whose low mantissa bits are n's two's complement (|n| < 2^22)
  for (int j = 0; j < N; ++j) n[j] = _mm256_fmadd_ps(xc[j], _mm256_set1_ps(kLog2e), _mm256_set1_ps(kRound));
  for (int j = 0; j < N; ++j) r[j] = _mm256_fnmadd_ps(_mm256_sub_ps(n[j], _mm256_set1_ps(kRound)), _mm256_set1_ps(kLn2Hi), xc[j]);
  for (int j = 0; j < N; ++j) r[j] = _mm256_fnmadd_ps(_mm256_sub_ps(n[j], _mm256_set1_ps(kRound)), _mm256_set1_ps(kLn2Lo), r[j]);
  for (int j = 0; j < N; ++j) p[j] = _mm256_set1_ps(kPoly[0]);
  for (int k = 1; k < 8; ++k)
    for (int j = 0; j < N; ++j) p[j] = _mm256_fmadd_ps(p[j], r[j], _mm256_set1_ps(kPoly[k]));
  for (int j = 0; j < N; ++j) {
    // 2^n: (n + 127) << 23, from n + kRound's bits (kRound's own bits shift out)
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(n[j]), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_mul_ps(p[j], _mm256_castsi256_ps(bits));
    if (!kInRange) {
      e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps(x[j], _mm256_set1_ps(kMin), _CMP_LT_OQ));
      e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x[j], _mm256_set1_ps(kMax), _CMP_GT_OQ));
      e = _mm256_blendv_ps(e, x[j], _mm256_cmp_ps(x[j], x[j], _CMP_UNORD_Q));
    }
    x[j] = e;
  }
}

// The exponentials, four vectors at a time, into the reference's eight running sums (added in
// element order, as one vector at a time would). A softmax's inputs are almost always within
// the range where the exponential has no special case: checked four vectors at a time.
float op_softmax_exp(float* x, float max, int64_t n) {
  using namespace softmax_exp_detail;
  const __m256 m = _mm256_set1_ps(max);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 e[4];
    __m256 in_range = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int j = 0; j < 4; ++j) {
      e[j] = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * j), m);
      in_range = _mm256_and_ps(in_range, _mm256_and_ps(_mm256_cmp_ps(e[j], _mm256_set1_ps(kMin), _CMP_GE_OQ),
                                                         _mm256_cmp_ps(e[j], _mm256_set1_ps(kMax), _CMP_LE_OQ)));
    }
    if (_mm256_movemask_ps(in_range) == 0xff) exp8_softmax<4, true>(e);
    else exp8_softmax<4>(e);
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(x + i + 8 * j, e[j]);
      acc = _mm256_add_ps(acc, e[j]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    __m256 e = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    exp8_softmax<1>(&e);
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = sum_lanes_pairwise(acc);
  if (i < n) {
    alignas(32) float tail[8] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = x[j];
    __m256 e = _mm256_sub_ps(_mm256_load_ps(tail), m);
    exp8_softmax<1>(&e);
    _mm256_store_ps(tail, e);
    for (int64_t j = i; j < n; ++j) sum += x[j] = tail[j - i];
  }
  return sum;
}

// gate / (1 + exp(-gate)) * up, with the same exponential as softmax_exp.
void op_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), _mm256_loadu_ps(up + i)));
  }
  for (; i + 4 <= n; i += 4) {
    const __m128 g = _mm_loadu_ps(gate + i);
    const __m128 e = exp4(_mm_xor_ps(g, _mm_set1_ps(-0.0f)));
    _mm_storeu_ps(out + i, _mm_mul_ps(_mm_div_ps(g, _mm_add_ps(_mm_set1_ps(1.0f), e)), _mm_loadu_ps(up + i)));
  }
  if (i < n) {
    alignas(16) float g[4] = {}, u[4] = {}, o[4];
    for (int64_t j = i; j < n; ++j) g[j - i] = gate[j], u[j - i] = up[j];
    const __m128 gv = _mm_load_ps(g);
    const __m128 e = exp4(_mm_xor_ps(gv, _mm_set1_ps(-0.0f)));
    _mm_store_ps(o, _mm_mul_ps(_mm_div_ps(gv, _mm_add_ps(_mm_set1_ps(1.0f), e)), _mm_load_ps(u)));
    for (int64_t j = i; j < n; ++j) out[j] = o[j - i];
  }
}

void op_scale_round_fp16(float* x, float s, int64_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i) x[i] = _cvtsh_ss(uint16_t(_cvtss_sh(x[i] * s, _MM_FROUND_TO_NEAREST_INT)));
}

void op_fp16_to_fp32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_half(src + i));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

void op_fp32_to_fp16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) dst[i] = uint16_t(_cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT));
}

// out = gelu(gate) * up with GELU looked up by the half-precision gate in `table` (65536 halves
// plus 2 bytes of padding for the 32-bit gather): 0 below -10, the identity above 10.
void op_gelu_table_mul(const uint16_t* table, const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const int* base = reinterpret_cast<const int*>(table);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(gate + i);
    const __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    // Gather 32 bits at byte offset 2h and keep the low half: the table entry of h.
    const __m256i g32 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(reinterpret_cast<const char*>(base)), _mm256_slli_epi32(h, 1), 1);
    const __m128i g16 = _mm256_castsi256_si128(_mm256_permute4x64_epi64(
        _mm256_packus_epi32(_mm256_and_si256(g32, _mm256_set1_epi32(0xffff)), _mm256_setzero_si256()), 0xd8));
    __m256 g = _mm256_cvtph_ps(g16);
    g = _mm256_blendv_ps(g, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-10.0f), _CMP_LE_OQ));
    g = _mm256_blendv_ps(g, x, _mm256_cmp_ps(x, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(g, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float x = gate[i];
    const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : _cvtsh_ss(table[uint16_t(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT))]);
    out[i] = g * up[i];
  }
}

void register_ops(KernelTable& k) {
  k.dot_f32 = op_dot_f32;
  k.dot_f32_f16 = op_dot_f32_f16;
  k.axpy_f16 = op_axpy_f16;
  k.axpy_f32 = op_axpy_f32;
  k.axpy_f16_rows = op_axpy_rows<uint16_t>;
  k.axpy_f32_rows = op_axpy_rows<float>;
  k.dot_f32_f16_key_groups = key_groups_tiled<KeyGroupTiles, uint16_t>;
  k.dot_f32_key_groups = key_groups_tiled<KeyGroupTiles, float>;
  k.max_f32 = op_max_f32;
  k.softmax_exp = op_softmax_exp;
  k.rms_norm_rows = op_rms_norm_rows;
  k.silu_mul = op_silu_mul;
  k.scale_round_fp16 = op_scale_round_fp16;
  k.fp16_to_fp32 = op_fp16_to_fp32;
  k.fp32_to_fp16 = op_fp32_to_fp16;
  k.gelu_table_mul = op_gelu_table_mul;
}
