// Packed-weight tile kernels (see kernels/gemm.h), written once against an ISA traits struct V
// and compiled once per SIMD ISA: by gemm_avx2.cc (V = 8 rows per __m256i, pmaddubsw),
// gemm_avx512.cc (V = 16 rows per __m512i, VNNI vpdpbusd) and gemm_neon.cc (V = 4 rows per
// int32x4_t). Include only from those files, inside `namespace nagare { namespace {` after V is
// defined, so nothing here has external linkage.
//
// One vector lane is one weight row: a 32-bit lane gathers the products of 4 consecutive
// elements ("k-group") of its row with the same 4 activations, broadcast to every lane. Integer
// sums per block are exact; the float steps per (row, token) are written as scalar code would
// be (no FMA: these files build with -ffp-contract=off), in this fixed order:
//   Q4_0, Q5_0, Q8_0, Q4_1, Q5_1  the scalar reference's order (kernels/quant_legacy.cc), so
//                                 results equal nagare::ref bit for bit;
//   Q4_K, Q5_K  acc = (acc + (d_w * d_a) * float(isum)) - (dmin_w * d_a) * float(imin);
//   Q3_K, Q6_K  acc = acc + (d_w * d_a) * float(isum)
// per block, with isum / imin the super-block's exact integer sums (the scalar reference's order,
// kernels/quant_k.cc, quant_k_low.cc);
//   Q2_K        acc = acc + ((d_w * d_a) * float(isum) - (dmin_w * d_a) * float(imin));
//   IQ4_NL, MXFP4  acc = acc + (d_w * d_a) * float(isum)  per block;
//   IQ4_XS         acc = acc + ((d_w * d_a) * float(ls_j - 32)) * float(isum_j)  per 32-element
//                  sub-block j (kernels/quant_iq.cc, kernels/quant_mx.cc).
// Their 4-bit codes become signed levels by a 16-byte table lookup (VNNI: levels + 128, the
// offset taken off with the activation sums, as Q8_0's). The raw-layout kernels of quant_x86.h,
// quant_x86_iq.h, quant_x86_low.h and quant_neon.cc use the same orders, so every path, scalar
// included, gives the same bits for an output element whatever the tile, batch, or ISA.

using I = typename V::I;
using F = typename V::F;
constexpr int kVecs = V::kVecs;  // vectors per 16-row group

constexpr size_t kQ8_0Bytes = 34, kQ8_1Bytes = 36, kQ8_KBytes = 292;  // activation blocks

template <typename T>
inline T load_as(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Asks for block b's record of the G groups at pf (the next tile), so it streams in from memory
// while this tile computes.
template <GgmlType kType, int G>
inline void prefetch_block(const uint8_t* pf, const GemmWeightsView& w, int64_t b) {
  if (pf == nullptr) return;
  constexpr size_t kRecord = packed_block_bytes(kType).record();
  // Into L2 (prefetcht1), not L1: L1 runs out of miss buffers, and a large matrix under a batch
  // of 8-16 tokens then streamed at half the core's bandwidth (the 262k-row output matrix of
  // Gemma 3 went 1.35x faster with the L2 hint).
  for (int gi = 0; gi < G; ++gi) {
    const uint8_t* r = pf + size_t(gi) * w.group_bytes + size_t(b) * kRecord;
    for (size_t o = 0; o < kRecord; o += 64) __builtin_prefetch(r + o, 0, 2);
    __builtin_prefetch(r + kRecord - 1, 0, 2);  // the last line, where the record is not aligned
  }
}

// Stores one vector of 16 / 8 consecutive rows of one token, clipped to the valid rows.
inline void store_rows(float* out, F v, int64_t row, int64_t rows) {
  const int64_t n = rows - row;
  if (n > 0) V::store(out + row, v, n >= V::kLanes ? V::kLanes : int(n));
}

// The 16-entry level table of a non-linear 4-bit format as the ISA's dot wants it: signed
// levels, or levels + 128 (as unsigned bytes) where the dot is vpdpbusd's unsigned x signed.
template <GgmlType kType>
inline I level_table() {
  const int8_t* src = kType == GgmlType::MXFP4 ? kMXFP4Values : kIQ4Values;
  alignas(16) int8_t t[16];
  for (int k = 0; k < 16; ++k) t[k] = V::kVnni ? int8_t(uint8_t(src[k]) ^ 0x80) : src[k];
  return V::table16(t);
}

// acc + the dot of looked-up levels w (w_abs: V::q8_prepare(w), unused with VNNI) with the 4
// activations at a.
inline I dot_levels(I acc, I w, I w_abs, const int8_t* a) {
  if constexpr (V::kVnni) return V::dot(acc, w, a);
  else return V::dot_q8(acc, w, w_abs, a);
}

// V::load_s8_pair16 where V has 16-bit dots (only those ISAs define it): the sub-block scales
// (int8, or uint8 below 128) of 8 rows, each as an int16 pair for pmaddwd.
template <typename VV>
inline I scale_pairs(const uint8_t* p, int h) {
  if constexpr (VV::kDot16) return VV::load_s8_pair16(p, h);
  else return VV::zero();
}

template <GgmlType kType, int G, int T>
void tile_legacy(const GemmWeightsView& w, int64_t g, const GemmActView& x, int64_t t, float* out, int64_t os,
                 const uint8_t* pf) {
  constexpr int R = G * kVecs;
  constexpr bool kQ5 = kType == GgmlType::Q5_0 || kType == GgmlType::Q5_1;
  constexpr bool kHasMin = kType == GgmlType::Q4_1 || kType == GgmlType::Q5_1;
  // Signed formats are dotted as unsigned quants minus an offset times the activation sum.
  constexpr bool kLut = kType == GgmlType::IQ4_NL || kType == GgmlType::MXFP4;
  constexpr int kOffsetShift = kType == GgmlType::Q4_0            ? 3   // offset 8
                               : kType == GgmlType::Q5_0          ? 4   // 16
                               : kType == GgmlType::Q8_0 || kLut ? (V::kVnni ? 7 : 0)  // 128
                                                                  : 0;
  constexpr size_t kActBytes = kHasMin ? kQ8_1Bytes : kQ8_0Bytes;
  constexpr size_t kActQs = kHasMin ? 4 : 2;
  // 4-bit quants: a whole block's pair sums fit 16 bits (8 x 2 * 15 * 127 < 2^15), so pmaddubsw
  // results are added as they come and widened once (AVX2; VNNI accumulates 32-bit anyway).
  constexpr bool kShort = V::kDot16 && !kQ5 && !kLut && kType != GgmlType::Q8_0;
  const PackedLayout& L = w.layout;
  constexpr PackedBlockBytes kB = packed_block_bytes(kType);
  const uint8_t* grp[G];
  for (int gi = 0; gi < G; ++gi) grp[gi] = w.data + size_t(g + gi) * w.group_bytes;
  const int8_t* a[T];
  const uint8_t* e[T];
  for (int tt = 0; tt < T; ++tt) {
    a[tt] = reinterpret_cast<const int8_t*>(x.rows + size_t(t + tt) * x.row_bytes + kActQs);
    e[tt] = x.extras + size_t(t + tt) * x.extra_bytes;
  }
  F acc[R][T];
  for (auto& row : acc)
    for (auto& v : row) v = V::fzero();
  I table = V::zero();
  if constexpr (kLut) table = level_table<kType>();

  for (int64_t b = 0; b < w.blocks; ++b) {
    prefetch_block<kType, G>(pf, w, b);
    I s[R][T];
    for (int tt = 0; tt < T; ++tt) {
      // The offset times the activation sum, formed in a vector register: a broadcast from a
      // general-purpose register costs more than the shift.
      I c = V::zero();
      if constexpr (kOffsetShift != 0)
        c = V::template neg_shl<kOffsetShift>(V::set1(load_as<int32_t>(e[tt] + b * sizeof(ActExtrasQ8_0) + offsetof(ActExtrasQ8_0, sum))));
      for (int r = 0; r < R; ++r) s[r][tt] = c;
    }
    if constexpr (kType == GgmlType::Q8_0) {
      for (int kg = 0; kg < 8; ++kg) {
        I wv[R], wa[R];
        for (int r = 0; r < R; ++r) {
          wv[r] = V::load(grp[r / kVecs] + L.qs + b * kB.record() + 64 * kg, r % kVecs);
          wa[r] = V::q8_prepare(wv[r]);
        }
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = a[tt] + b * kActBytes + 4 * kg;
          for (int r = 0; r < R; ++r) s[r][tt] = V::dot_q8(s[r][tt], wv[r], wa[r], ap);
        }
      }
    } else if constexpr (kLut) {
      for (int i = 0; i < 4; ++i) {
        I w0[R], w1[R], a0[R], a1[R];
        for (int r = 0; r < R; ++r) {
          const I raw = V::load(grp[r / kVecs] + L.qs + b * kB.record() + 64 * i, r % kVecs);
          w0[r] = V::lut(table, V::lo(raw));
          w1[r] = V::lut(table, V::hi(raw));
          if constexpr (!V::kVnni) {
            a0[r] = V::q8_prepare(w0[r]);
            a1[r] = V::q8_prepare(w1[r]);
          } else {
            a0[r] = w0[r];
            a1[r] = w1[r];
          }
        }
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = a[tt] + b * kActBytes + 8 * i;
          for (int r = 0; r < R; ++r) {
            s[r][tt] = dot_levels(s[r][tt], w0[r], a0[r], ap);
            s[r][tt] = dot_levels(s[r][tt], w1[r], a1[r], ap + 4);
          }
        }
      }
    } else {
      I s16[R][T];
      if constexpr (kShort)
        for (auto& row : s16)
          for (auto& v : row) v = V::zero();
      for (int i = 0; i < 4; ++i) {
        I w0[R], w1[R];
        for (int r = 0; r < R; ++r) {
          const uint8_t* gp = grp[r / kVecs];
          const I raw = V::load(gp + L.qs + b * kB.record() + 64 * i, r % kVecs);
          w0[r] = V::lo(raw);
          w1[r] = V::hi(raw);
          if constexpr (kQ5) {
            const uint8_t* hb = gp + L.hb + b * kB.record() + 16 * i;
            w0[r] = V::add_bit4(w0[r], hb, r % kVecs);
            w1[r] = V::add_bit4(w1[r], hb + 8, r % kVecs);
          }
        }
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = a[tt] + b * kActBytes + 8 * i;
          for (int r = 0; r < R; ++r) {
            if constexpr (kShort) {
              s16[r][tt] = V::dot16(s16[r][tt], w0[r], ap);
              s16[r][tt] = V::dot16(s16[r][tt], w1[r], ap + 4);
            } else {
              s[r][tt] = V::dot(s[r][tt], w0[r], ap);
              s[r][tt] = V::dot(s[r][tt], w1[r], ap + 4);
            }
          }
        }
      }
      if constexpr (kShort)
        for (int r = 0; r < R; ++r)
          for (int tt = 0; tt < T; ++tt) s[r][tt] = V::add(s[r][tt], V::widen16(s16[r][tt]));
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* gp = grp[r / kVecs];
      F dx;
      if constexpr (kType == GgmlType::MXFP4) dx = V::load_e8m0_half(gp + L.d + b * kB.record(), r % kVecs);
      else dx = V::load_f16(gp + L.d + b * kB.record(), r % kVecs);
      F mx = V::fzero();
      if constexpr (kHasMin) mx = V::load_f16(gp + L.m + b * kB.record(), r % kVecs);
      for (int tt = 0; tt < T; ++tt) {
        const F sf = V::cvt(s[r][tt]);
        // Each activation scalar loaded on its own (not as a struct): it then broadcasts
        // straight from memory instead of through a general-purpose register.
        if constexpr (kHasMin) {
          const uint8_t* ex = e[tt] + b * sizeof(ActExtrasQ8_1);
          const F dy = V::fset1(load_as<float>(ex + offsetof(ActExtrasQ8_1, d)));
          const F sy = V::fset1(load_as<float>(ex + offsetof(ActExtrasQ8_1, s)));
          acc[r][tt] = V::fadd(acc[r][tt], V::fadd(V::fmul(V::fmul(dx, dy), sf), V::fmul(mx, sy)));
        } else {
          const F dy = V::fset1(load_as<float>(e[tt] + b * sizeof(ActExtrasQ8_0) + offsetof(ActExtrasQ8_0, d)));
          if constexpr (kType == GgmlType::Q4_0) acc[r][tt] = V::fadd(acc[r][tt], V::fmul(V::fmul(sf, dx), dy));
          else acc[r][tt] = V::fadd(acc[r][tt], V::fmul(sf, V::fmul(dx, dy)));
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int tt = 0; tt < T; ++tt)
      store_rows(out + (t + tt) * os, acc[r][tt], (g + r / kVecs) * kGemmRows + (r % kVecs) * V::kLanes, w.rows);
}

// Q4_K and Q5_K: eight 32-element sub-blocks with 6-bit scales and mins per super-block.
template <GgmlType kType, int G, int T>
void tile_q45_k(const GemmWeightsView& w, int64_t g, const GemmActView& x, int64_t t, float* out, int64_t os,
                const uint8_t* pf) {
  constexpr int R = G * kVecs;
  constexpr bool kQ5 = kType == GgmlType::Q5_K;
  constexpr bool kShort = V::kDot16 && !kQ5;
  const PackedLayout& L = w.layout;
  constexpr PackedBlockBytes kB = packed_block_bytes(kType);
  const uint8_t* grp[G];
  for (int gi = 0; gi < G; ++gi) grp[gi] = w.data + size_t(g + gi) * w.group_bytes;
  const uint8_t* a[T];
  const uint8_t* e[T];
  for (int tt = 0; tt < T; ++tt) {
    a[tt] = x.rows + size_t(t + tt) * x.row_bytes;
    e[tt] = x.extras + size_t(t + tt) * x.extra_bytes;
  }
  F acc[R][T];
  for (auto& row : acc)
    for (auto& v : row) v = V::fzero();

  for (int64_t b = 0; b < w.blocks; ++b) {
    prefetch_block<kType, G>(pf, w, b);
    I isum[R][T];
    for (auto& row : isum)
      for (auto& v : row) v = V::zero();
    for (int j = 0; j < 8; ++j) {
      I s[R][T];  // Q4_K on AVX2: 16-bit sums over the 32-element sub-block (see tile_legacy)
      for (auto& row : s)
        for (auto& v : row) v = V::zero();
      for (int ii = 0; ii < 4; ++ii) {
        const int i = 4 * j + ii;
        I w0[R], w1[R];
        for (int r = 0; r < R; ++r) {
          const uint8_t* gp = grp[r / kVecs];
          const I raw = V::load(gp + L.qs + b * kB.record() + 64 * i, r % kVecs);
          w0[r] = V::lo(raw);
          w1[r] = V::hi(raw);
          if constexpr (kQ5) {
            const uint8_t* hb = gp + L.hb + b * kB.record() + 16 * i;
            w0[r] = V::add_bit4(w0[r], hb, r % kVecs);
            w1[r] = V::add_bit4(w1[r], hb + 8, r % kVecs);
          }
        }
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = reinterpret_cast<const int8_t*>(a[tt] + b * kQ8_KBytes + 4) + 8 * i;
          for (int r = 0; r < R; ++r) {
            if constexpr (kShort) {
              s[r][tt] = V::dot16(s[r][tt], w0[r], ap);
              s[r][tt] = V::dot16(s[r][tt], w1[r], ap + 4);
            } else {
              s[r][tt] = V::dot(s[r][tt], w0[r], ap);
              s[r][tt] = V::dot(s[r][tt], w1[r], ap + 4);
            }
          }
        }
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* scp = grp[r / kVecs] + L.sc + b * kB.record() + kGemmRows * j;
        if constexpr (kShort) {  // the 16-bit sums times the scale (< 64) in one pmaddwd
          const I sc = scale_pairs<V>(scp, r % kVecs);
          for (int tt = 0; tt < T; ++tt) isum[r][tt] = V::add(isum[r][tt], V::madd16(s[r][tt], sc));
        } else {
          const I sc = V::load_u8_i32(scp, r % kVecs);
          for (int tt = 0; tt < T; ++tt) isum[r][tt] = V::add(isum[r][tt], V::mullo(s[r][tt], sc));
        }
      }
    }
    I imin[R][T];
    for (auto& row : imin)
      for (auto& v : row) v = V::zero();
    for (int p = 0; p < 4; ++p) {
      for (int r = 0; r < R; ++r) {
        const I mn = V::load_u8_i16(grp[r / kVecs] + L.mn + b * kB.record() + 2 * kGemmRows * p, r % kVecs);
        for (int tt = 0; tt < T; ++tt) {
          const int32_t pair = load_as<int32_t>(e[tt] + b * sizeof(ActExtrasQ8_K) + 4 * p);  // sub_sums[2p..2p+1]
          imin[r][tt] = V::add(imin[r][tt], V::madd16(mn, V::set1(pair)));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* gp = grp[r / kVecs];
      const F dx = V::load_f16(gp + L.d + b * kB.record(), r % kVecs);
      const F dm = V::load_f16(gp + L.m + b * kB.record(), r % kVecs);
      for (int tt = 0; tt < T; ++tt) {
        const F yd = V::fset1(load_as<float>(a[tt] + b * kQ8_KBytes));
        const F plus = V::fmul(V::fmul(dx, yd), V::cvt(isum[r][tt]));
        const F minus = V::fmul(V::fmul(dm, yd), V::cvt(imin[r][tt]));
        acc[r][tt] = V::fsub(V::fadd(acc[r][tt], plus), minus);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int tt = 0; tt < T; ++tt)
      store_rows(out + (t + tt) * os, acc[r][tt], (g + r / kVecs) * kGemmRows + (r % kVecs) * V::kLanes, w.rows);
}

// Q6_K and Q3_K: sixteen 16-element sub-blocks with int8 scales (Q3_K's signed 6-bit ones
// widened when packed). Q6_K: quants q - 32 with q in [0, 63], the high bits in h2, a sub-block's
// sum starting at -32 times its activation sum. Q3_K: quants q in [-4, 3] kept as 4-bit codes
// q + 4 (so the unsigned-by-signed dots take them as they are), the sum starting at -4 times the
// activation sum, which takes the offset back off.
template <GgmlType kType, int G, int T>
void tile_k_subblocks16(const GemmWeightsView& w, int64_t g, const GemmActView& x, int64_t t, float* out, int64_t os,
                        const uint8_t* pf) {
  constexpr int R = G * kVecs;
  const PackedLayout& L = w.layout;
  constexpr PackedBlockBytes kB = packed_block_bytes(kType);
  constexpr bool kQ6 = kType == GgmlType::Q6_K;
  constexpr size_t kBsums = 4 + kQK_K;  // a Q8_K activation block's int16 bsums[16]
  const uint8_t* grp[G];
  for (int gi = 0; gi < G; ++gi) grp[gi] = w.data + size_t(g + gi) * w.group_bytes;
  const uint8_t* a[T];
  const uint8_t* e[T];
  for (int tt = 0; tt < T; ++tt) {
    a[tt] = x.rows + size_t(t + tt) * x.row_bytes;
    if constexpr (kQ6) e[tt] = x.extras + size_t(t + tt) * x.extra_bytes;  // its -32 x activation sums
  }
  F acc[R][T];
  for (auto& row : acc)
    for (auto& v : row) v = V::fzero();

  for (int64_t b = 0; b < w.blocks; ++b) {
    prefetch_block<kType, G>(pf, w, b);
    I isum[R][T];
    for (auto& row : isum)
      for (auto& v : row) v = V::zero();
    for (int j = 0; j < 16; ++j) {
      I s[R][T];
      for (int tt = 0; tt < T; ++tt) {
        I c;
        if constexpr (kQ6)
          c = V::set1(load_as<int32_t>(e[tt] + b * sizeof(ActExtrasQ8_K) + offsetof(ActExtrasQ8_K, neg32_bsums) + 4 * j));
        else
          c = V::set1(-4 * int32_t(load_as<int16_t>(a[tt] + b * kQ8_KBytes + kBsums + 2 * j)));
        for (int r = 0; r < R; ++r) s[r][tt] = c;
      }
      I h2[R];
      if constexpr (kQ6)
        for (int r = 0; r < R; ++r) h2[r] = V::load(grp[r / kVecs] + L.h2 + b * kB.record() + 64 * j, r % kVecs);
      // With 16-bit dots (AVX2), the pair sums of the k-groups that provably fit 16 bits (Q6_K:
      // two, 2 * 2 * 63 * 127 < 2^15; Q3_K: all four) are added as they come and multiplied by
      // the sub-block scale in one pmaddwd; the offset term is scaled on its own. Exact integers
      // either way, so the same isum.
      constexpr bool kPairs = V::kDot16;
      I sc[R], sc16[R];
      for (int r = 0; r < R; ++r) {
        const uint8_t* scp = grp[r / kVecs] + L.sc + b * kB.record() + kGemmRows * j;
        sc[r] = V::load_s8_i32(scp, r % kVecs);
        if constexpr (kPairs) sc16[r] = scale_pairs<V>(scp, r % kVecs);
      }
      I s16[R][T];
      for (int ii = 0; ii < 2; ++ii) {
        const int i = 2 * j + ii;
        I w0[R], w1[R];
        for (int r = 0; r < R; ++r) {
          const I raw = V::load(grp[r / kVecs] + L.qs + b * kB.record() + 64 * i, r % kVecs);
          if constexpr (kQ6) {
            w0[r] = V::or_(V::lo(raw), V::bits45(h2[r], 2 * ii));
            w1[r] = V::or_(V::hi(raw), V::bits45(h2[r], 2 * ii + 1));
          } else {
            w0[r] = V::lo(raw);
            w1[r] = V::hi(raw);
          }
        }
        if (kPairs && (kQ6 || ii == 0))
          for (auto& row : s16)
            for (auto& v : row) v = V::zero();
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = reinterpret_cast<const int8_t*>(a[tt] + b * kQ8_KBytes + 4) + 8 * i;
          for (int r = 0; r < R; ++r) {
            if constexpr (kPairs) {
              s16[r][tt] = V::dot16(s16[r][tt], w0[r], ap);
              s16[r][tt] = V::dot16(s16[r][tt], w1[r], ap + 4);
            } else {
              s[r][tt] = V::dot(s[r][tt], w0[r], ap);
              s[r][tt] = V::dot(s[r][tt], w1[r], ap + 4);
            }
          }
        }
        if (kPairs && (kQ6 || ii == 1))
          for (int r = 0; r < R; ++r)
            for (int tt = 0; tt < T; ++tt) isum[r][tt] = V::add(isum[r][tt], V::madd16(s16[r][tt], sc16[r]));
      }
      for (int r = 0; r < R; ++r)
        for (int tt = 0; tt < T; ++tt) isum[r][tt] = V::add(isum[r][tt], V::mullo(s[r][tt], sc[r]));
    }
    for (int r = 0; r < R; ++r) {
      const F dx = V::load_f16(grp[r / kVecs] + L.d + b * kB.record(), r % kVecs);
      for (int tt = 0; tt < T; ++tt) {
        const F yd = V::fset1(load_as<float>(a[tt] + b * kQ8_KBytes));
        acc[r][tt] = V::fadd(acc[r][tt], V::fmul(V::fmul(dx, yd), V::cvt(isum[r][tt])));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int tt = 0; tt < T; ++tt)
      store_rows(out + (t + tt) * os, acc[r][tt], (g + r / kVecs) * kGemmRows + (r % kVecs) * V::kLanes, w.rows);
}

// Q2_K: sixteen 16-element sub-blocks with 4-bit scales and mins; 2-bit quants in [0, 3].
template <int G, int T>
void tile_q2_k(const GemmWeightsView& w, int64_t g, const GemmActView& x, int64_t t, float* out, int64_t os,
               const uint8_t* pf) {
  constexpr int R = G * kVecs;
  const PackedLayout& L = w.layout;
  constexpr PackedBlockBytes kB = packed_block_bytes(GgmlType::Q2_K);
  constexpr size_t kBsums = 4 + kQK_K;  // the activation block's int16 bsums[16]
  const uint8_t* grp[G];
  for (int gi = 0; gi < G; ++gi) grp[gi] = w.data + size_t(g + gi) * w.group_bytes;
  const uint8_t* a[T];
  for (int tt = 0; tt < T; ++tt) a[tt] = x.rows + size_t(t + tt) * x.row_bytes;
  F acc[R][T];
  for (auto& row : acc)
    for (auto& v : row) v = V::fzero();

  for (int64_t b = 0; b < w.blocks; ++b) {
    prefetch_block<GgmlType::Q2_K, G>(pf, w, b);
    I isum[R][T];
    for (auto& row : isum)
      for (auto& v : row) v = V::zero();
    for (int j = 0; j < 16; ++j) {
      // AVX2: 16-bit sums over the sub-block (4 x 2 * 3 * 127 < 2^15), widened once.
      I s[R][T];
      for (auto& row : s)
        for (auto& v : row) v = V::zero();
      I q2[R];
      for (int r = 0; r < R; ++r) q2[r] = V::load(grp[r / kVecs] + L.h2 + b * kB.record() + 64 * j, r % kVecs);
      for (int c = 0; c < 4; ++c) {
        I wq[R];
        for (int r = 0; r < R; ++r) wq[r] = V::bits01(q2[r], c);
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = reinterpret_cast<const int8_t*>(a[tt] + b * kQ8_KBytes + 4) + 4 * (4 * j + c);
          for (int r = 0; r < R; ++r) {
            if constexpr (V::kDot16) s[r][tt] = V::dot16(s[r][tt], wq[r], ap);
            else s[r][tt] = V::dot(s[r][tt], wq[r], ap);
          }
        }
      }
      if constexpr (V::kDot16)
        for (auto& row : s)
          for (auto& v : row) v = V::widen16(v);
      for (int r = 0; r < R; ++r) {
        const I sc = V::load_u8_i32(grp[r / kVecs] + L.sc + b * kB.record() + kGemmRows * j, r % kVecs);
        for (int tt = 0; tt < T; ++tt) isum[r][tt] = V::add(isum[r][tt], V::mullo(s[r][tt], sc));
      }
    }
    I imin[R][T];
    for (auto& row : imin)
      for (auto& v : row) v = V::zero();
    for (int p = 0; p < 8; ++p) {
      for (int r = 0; r < R; ++r) {
        const I mn = V::load_u8_i16(grp[r / kVecs] + L.mn + b * kB.record() + 2 * kGemmRows * p, r % kVecs);
        for (int tt = 0; tt < T; ++tt) {
          const int32_t pair = load_as<int32_t>(a[tt] + b * kQ8_KBytes + kBsums + 4 * p);  // bsums[2p..2p+1]
          imin[r][tt] = V::add(imin[r][tt], V::madd16(mn, V::set1(pair)));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* gp = grp[r / kVecs];
      const F dx = V::load_f16(gp + L.d + b * kB.record(), r % kVecs);
      const F dm = V::load_f16(gp + L.m + b * kB.record(), r % kVecs);
      for (int tt = 0; tt < T; ++tt) {
        const F yd = V::fset1(load_as<float>(a[tt] + b * kQ8_KBytes));
        const F plus = V::fmul(V::fmul(dx, yd), V::cvt(isum[r][tt]));
        const F minus = V::fmul(V::fmul(dm, yd), V::cvt(imin[r][tt]));
        acc[r][tt] = V::fadd(acc[r][tt], V::fsub(plus, minus));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int tt = 0; tt < T; ++tt)
      store_rows(out + (t + tt) * os, acc[r][tt], (g + r / kVecs) * kGemmRows + (r % kVecs) * V::kLanes, w.rows);
}


// IQ4_XS: eight 32-element sub-blocks with signed 6-bit scales, levels by table lookup; one
// float step per sub-block, as the scalar reference.
template <int G, int T>
void tile_iq4_xs(const GemmWeightsView& w, int64_t g, const GemmActView& x, int64_t t, float* out, int64_t os,
                 const uint8_t* pf) {
  constexpr int R = G * kVecs;
  const PackedLayout& L = w.layout;
  constexpr PackedBlockBytes kB = packed_block_bytes(GgmlType::IQ4_XS);
  const uint8_t* grp[G];
  for (int gi = 0; gi < G; ++gi) grp[gi] = w.data + size_t(g + gi) * w.group_bytes;
  const uint8_t* a[T];
  const uint8_t* e[T];
  for (int tt = 0; tt < T; ++tt) {
    a[tt] = x.rows + size_t(t + tt) * x.row_bytes;
    e[tt] = x.extras + size_t(t + tt) * x.extra_bytes;
  }
  F acc[R][T];
  for (auto& row : acc)
    for (auto& v : row) v = V::fzero();
  const I table = level_table<GgmlType::IQ4_XS>();

  for (int64_t b = 0; b < w.blocks; ++b) {
    prefetch_block<GgmlType::IQ4_XS, G>(pf, w, b);
    F dd[R][T];  // d_w * d_a
    for (int r = 0; r < R; ++r) {
      const F dx = V::load_f16(grp[r / kVecs] + L.d + b * kB.record(), r % kVecs);
      for (int tt = 0; tt < T; ++tt) dd[r][tt] = V::fmul(dx, V::fset1(load_as<float>(a[tt] + b * kQ8_KBytes)));
    }
    for (int j = 0; j < 8; ++j) {
      I s[R][T];
      for (int tt = 0; tt < T; ++tt) {
        I c = V::zero();
        if constexpr (V::kVnni)
          c = V::template neg_shl<7>(V::set1(load_as<int16_t>(e[tt] + b * sizeof(ActExtrasQ8_K) + 2 * j)));  // sub_sums[j]
        for (int r = 0; r < R; ++r) s[r][tt] = c;
      }
      for (int ii = 0; ii < 4; ++ii) {
        const int i = 4 * j + ii;
        I w0[R], w1[R], a0[R], a1[R];
        for (int r = 0; r < R; ++r) {
          const I raw = V::load(grp[r / kVecs] + L.qs + b * kB.record() + 64 * i, r % kVecs);
          w0[r] = V::lut(table, V::lo(raw));
          w1[r] = V::lut(table, V::hi(raw));
          if constexpr (!V::kVnni) {
            a0[r] = V::q8_prepare(w0[r]);
            a1[r] = V::q8_prepare(w1[r]);
          } else {
            a0[r] = w0[r];
            a1[r] = w1[r];
          }
        }
        for (int tt = 0; tt < T; ++tt) {
          const int8_t* ap = reinterpret_cast<const int8_t*>(a[tt] + b * kQ8_KBytes + 4) + 8 * i;
          for (int r = 0; r < R; ++r) {
            s[r][tt] = dot_levels(s[r][tt], w0[r], a0[r], ap);
            s[r][tt] = dot_levels(s[r][tt], w1[r], a1[r], ap + 4);
          }
        }
      }
      for (int r = 0; r < R; ++r) {
        const F ls = V::cvt(V::load_s8_i32(grp[r / kVecs] + L.sc + b * kB.record() + kGemmRows * j, r % kVecs));
        for (int tt = 0; tt < T; ++tt)
          acc[r][tt] = V::fadd(acc[r][tt], V::fmul(V::fmul(dd[r][tt], ls), V::cvt(s[r][tt])));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int tt = 0; tt < T; ++tt)
      store_rows(out + (t + tt) * os, acc[r][tt], (g + r / kVecs) * kGemmRows + (r % kVecs) * V::kLanes, w.rows);
}

using TileFn = void (*)(const GemmWeightsView&, int64_t, const GemmActView&, int64_t, float*, int64_t, const uint8_t*);

template <GgmlType kType, int G, int T>
constexpr TileFn tile_fn() {
  if constexpr (kType == GgmlType::Q4_K || kType == GgmlType::Q5_K) return &tile_q45_k<kType, G, T>;
  else if constexpr (kType == GgmlType::Q6_K) return &tile_k_subblocks16<GgmlType::Q6_K, G, T>;
  else if constexpr (kType == GgmlType::IQ4_XS) return &tile_iq4_xs<G, T>;
  else if constexpr (kType == GgmlType::Q2_K) return &tile_q2_k<G, T>;
  else if constexpr (kType == GgmlType::Q3_K) return &tile_k_subblocks16<GgmlType::Q3_K, G, T>;
  else return &tile_legacy<kType, G, T>;
}

// Tiles of up to kG groups x kT tokens; the ragged edges use smaller instances of the same code.
// A single token (decode) takes taller tiles of up to kGemv groups: more rows in flight while
// the weights stream from memory. Where the ISA has them, batches of kWide tokens or more take
// one group by kWide tokens, so each weight block is decoded fewer times (AVX-512: pp512 3-11%
// and batch-32 decode 12-30% faster than with 2 x 4 tiles), and the last tokens short of kWide
// one one-group tile of that many (a batch of a few dozen tokens, as a mixture of experts gives
// each expert, otherwise ended in up to two narrow tiles); smaller batches take kG x kT.
template <GgmlType kType, int kG, int kT, int kGemv, int kWide>
struct TileTable {
  static constexpr int kNarrow = kWide > 1 ? kWide - 1 : 1;
  TileFn fn[kG][kT];
  TileFn gemv[kGemv];
  TileFn wide;
  TileFn narrow[kNarrow];  // one group by 1 .. kWide - 1 tokens
  constexpr TileTable() : fn{}, gemv{}, wide{}, narrow{} {
    fill<0>();
    fill_gemv<0>();
    if constexpr (kWide > 0) wide = tile_fn<kType, 1, kWide>();
    if constexpr (kWide > 1) fill_narrow<0>();
  }
  template <int N>
  constexpr void fill_narrow() {
    if constexpr (N < kNarrow) {
      narrow[N] = tile_fn<kType, 1, N + 1>();
      fill_narrow<N + 1>();
    }
  }
  template <int N>
  constexpr void fill() {
    if constexpr (N < kG * kT) {
      fn[N / kT][N % kT] = tile_fn<kType, N / kT + 1, N % kT + 1>();
      fill<N + 1>();
    }
  }
  template <int N>
  constexpr void fill_gemv() {
    if constexpr (N < kGemv) {
      gemv[N] = tile_fn<kType, N + 1, 1>();
      fill_gemv<N + 1>();
    }
  }
};

template <GgmlType kType>
void gemm(const GemmWeightsView& w, int64_t g0, int64_t g1, const GemmActView& x, int64_t t0, int64_t t1, float* out,
          int64_t os) {
  constexpr int kG = V::template tile_groups<kType>(), kT = V::template tile_tokens<kType>();
  constexpr int kGemv = V::kGemvGroups, kWide = V::kWideTokens;
  static constexpr TileTable<kType, kG, kT, kGemv, kWide> table;
  // Each tile prefetches the weights of the next group tile; the last one of the range, those
  // just past it (the next task's, most likely).
  auto next = [&](int64_t g, int gn) -> const uint8_t* {
    const int64_t n = g + gn;
    return n + gn <= (w.rows + kGemmRows - 1) / kGemmRows ? w.data + size_t(n) * w.group_bytes : nullptr;
  };
  const int64_t n_tokens = t1 - t0;
  if (n_tokens == 1) {
    for (int64_t g = g0; g < g1; g += kGemv) {
      const int gn = int(g1 - g < kGemv ? g1 - g : kGemv);
      table.gemv[gn - 1](w, g, x, t0, out, os, next(g, gn));
    }
    return;
  }
  // Weights of a group tile stay in L1 while every token tile passes over them.
  const bool wide = kWide > 0 && n_tokens >= kWide;
  const int step = wide ? 1 : kG;
  for (int64_t g = g0; g < g1; g += step) {
    const int gn = int(g1 - g < step ? g1 - g : step);
    int64_t t = t0;
    if (wide) {
      for (; t + kWide <= t1; t += kWide) table.wide(w, g, x, t, out, os, t == t0 ? next(g, gn) : nullptr);
      if (kWide > 1 && t < t1) table.narrow[t1 - t - 1](w, g, x, t, out, os, nullptr);
      continue;
    }
    for (; t < t1; t += kT) {
      const int tn = int(t1 - t < kT ? t1 - t : kT);
      table.fn[gn - 1][tn - 1](w, g, x, t, out, os, t == t0 ? next(g, gn) : nullptr);
    }
  }
}

void register_gemm(KernelTable& k) {
  k.gemm[int(GgmlType::Q4_0)] = &gemm<GgmlType::Q4_0>;
  k.gemm[int(GgmlType::Q4_1)] = &gemm<GgmlType::Q4_1>;
  k.gemm[int(GgmlType::Q5_0)] = &gemm<GgmlType::Q5_0>;
  k.gemm[int(GgmlType::Q5_1)] = &gemm<GgmlType::Q5_1>;
  k.gemm[int(GgmlType::Q8_0)] = &gemm<GgmlType::Q8_0>;
  k.gemm[int(GgmlType::Q4_K)] = &gemm<GgmlType::Q4_K>;
  k.gemm[int(GgmlType::Q5_K)] = &gemm<GgmlType::Q5_K>;
  k.gemm[int(GgmlType::Q6_K)] = &gemm<GgmlType::Q6_K>;
  k.gemm[int(GgmlType::Q2_K)] = &gemm<GgmlType::Q2_K>;
  k.gemm[int(GgmlType::Q3_K)] = &gemm<GgmlType::Q3_K>;
  k.gemm[int(GgmlType::IQ4_NL)] = &gemm<GgmlType::IQ4_NL>;
  k.gemm[int(GgmlType::IQ4_XS)] = &gemm<GgmlType::IQ4_XS>;
  k.gemm[int(GgmlType::MXFP4)] = &gemm<GgmlType::MXFP4>;
}
