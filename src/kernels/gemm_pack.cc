// Repacking of GGUF weight rows into the 16-row interleaved layout of kernels/gemm.h, and the
// activation side data. Plain scalar code: it runs once per weight at load time.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "kernels/fp16.h"
#include "kernels/gemm.h"
#include "kernels/quant_blocks.h"
#include "util/error.h"

namespace nagare {
namespace {

// One row's block as plain integers: the quants (unsigned, as stored: Q8_0 keeps its int8 bits),
// raw fp16 scale and min, K-quant sub-block scales and mins.
struct RowBlock {
  uint8_t q[kQK_K];
  uint16_t d, m;
  uint8_t sc[16], mn[16];
};

void unpack_q4_k_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = s[j] & 63;
      mn[j] = s[j + 4] & 63;
    } else {
      sc[j] = uint8_t((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
      mn[j] = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
  }
}

void unpack(GgmlType type, const uint8_t* src, RowBlock& o) {
  o.m = 0;
  switch (type) {
    case GgmlType::Q4_0:
    case GgmlType::IQ4_NL:
    case GgmlType::MXFP4:
    case GgmlType::Q4_1: {
      const uint8_t* qs;
      if (type == GgmlType::Q4_0) {
        auto* b = reinterpret_cast<const BlockQ4_0*>(src);
        o.d = b->d;
        qs = b->qs;
      } else if (type == GgmlType::IQ4_NL) {
        auto* b = reinterpret_cast<const BlockIQ4_NL*>(src);
        o.d = b->d;
        qs = b->qs;
      } else if (type == GgmlType::MXFP4) {
        auto* b = reinterpret_cast<const BlockMXFP4*>(src);
        o.d = b->e;  // one byte per row in the d section
        qs = b->qs;
      } else {
        auto* b = reinterpret_cast<const BlockQ4_1*>(src);
        o.d = b->d;
        o.m = b->m;
        qs = b->qs;
      }
      for (int j = 0; j < 16; ++j) {
        o.q[j] = qs[j] & 15;
        o.q[j + 16] = qs[j] >> 4;
      }
      break;
    }
    case GgmlType::Q5_0:
    case GgmlType::Q5_1: {
      const uint8_t *qs, *qhp;
      if (type == GgmlType::Q5_0) {
        auto* b = reinterpret_cast<const BlockQ5_0*>(src);
        o.d = b->d;
        qs = b->qs;
        qhp = b->qh;
      } else {
        auto* b = reinterpret_cast<const BlockQ5_1*>(src);
        o.d = b->d;
        o.m = b->m;
        qs = b->qs;
        qhp = b->qh;
      }
      uint32_t qh;
      std::memcpy(&qh, qhp, 4);
      for (int j = 0; j < 16; ++j) {
        o.q[j] = uint8_t((qs[j] & 15) | (((qh >> j) & 1) << 4));
        o.q[j + 16] = uint8_t((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
      }
      break;
    }
    case GgmlType::Q8_0: {
      auto* b = reinterpret_cast<const BlockQ8_0*>(src);
      o.d = b->d;
      std::memcpy(o.q, b->qs, 32);
      break;
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const uint8_t *qs, *qh = nullptr;
      if (type == GgmlType::Q4_K) {
        auto* b = reinterpret_cast<const BlockQ4_K*>(src);
        o.d = b->d;
        o.m = b->dmin;
        unpack_q4_k_scales(b->scales, o.sc, o.mn);
        qs = b->qs;
      } else {
        auto* b = reinterpret_cast<const BlockQ5_K*>(src);
        o.d = b->d;
        o.m = b->dmin;
        unpack_q4_k_scales(b->scales, o.sc, o.mn);
        qs = b->qs;
        qh = b->qh;
      }
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 32; ++l) {
          o.q[64 * j + l] = qs[32 * j + l] & 15;
          o.q[64 * j + 32 + l] = qs[32 * j + l] >> 4;
          if (qh) {
            o.q[64 * j + l] |= uint8_t(((qh[l] >> (2 * j)) & 1) << 4);
            o.q[64 * j + 32 + l] |= uint8_t(((qh[l] >> (2 * j + 1)) & 1) << 4);
          }
        }
      break;
    }
    case GgmlType::Q2_K: {
      auto* b = reinterpret_cast<const BlockQ2_K*>(src);
      o.d = b->d;
      o.m = b->dmin;
      for (int j = 0; j < 16; ++j) {
        o.sc[j] = b->scales[j] & 15;
        o.mn[j] = b->scales[j] >> 4;
      }
      for (int e = 0; e < kQK_K; ++e) o.q[e] = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
      break;
    }
    case GgmlType::Q3_K: {
      auto* b = reinterpret_cast<const BlockQ3_K*>(src);
      o.d = b->d;
      int8_t sc[16];
      unpack_q3_k_scales(b->scales, sc);
      for (int j = 0; j < 16; ++j) o.sc[j] = uint8_t(sc[j]);
      for (int e = 0; e < kQK_K; ++e) {
        const int low = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
        const int high = (b->hmask[e % 32] >> (e / 32)) & 1;
        o.q[e] = uint8_t(low + 4 * high);  // q + 4, q = low - (high ? 0 : 4)
      }
      break;
    }
    case GgmlType::IQ4_XS: {
      auto* b = reinterpret_cast<const BlockIQ4_XS*>(src);
      o.d = b->d;
      for (int j = 0; j < 8; ++j) {
        o.sc[j] = uint8_t(int8_t(iq4_xs_scale(*b, j)));
        for (int k = 0; k < 16; ++k) {
          o.q[32 * j + k] = b->qs[16 * j + k] & 15;
          o.q[32 * j + 16 + k] = b->qs[16 * j + k] >> 4;
        }
      }
      break;
    }
    case GgmlType::Q6_K: {
      auto* b = reinterpret_cast<const BlockQ6_K*>(src);
      o.d = b->d;
      std::memcpy(o.sc, b->scales, 16);
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = b->ql + 64 * h;
        const uint8_t* qh = b->qh + 32 * h;
        uint8_t* q = o.q + 128 * h;
        for (int l = 0; l < 32; ++l) {
          q[l] = uint8_t((ql[l] & 15) | ((qh[l] & 3) << 4));
          q[l + 32] = uint8_t((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4));
          q[l + 64] = uint8_t((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
          q[l + 96] = uint8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
      }
      break;
    }
    default: break;
  }
}

// Writes block b of one group from its 16 rows' integers.
void pack_block(GgmlType type, const PackedLayout& L, const RowBlock* rb, uint8_t* group, int64_t b) {
  const int64_t E = L.block.elements;
  if (L.block.qs) {
    uint8_t* qs = group + L.qs + size_t(b) * L.block.record();
    if (type == GgmlType::Q8_0) {
      for (int g = 0; g < E / 4; ++g)
        for (int r = 0; r < kGemmRows; ++r)
          for (int m = 0; m < 4; ++m) qs[64 * g + 4 * r + m] = rb[r].q[4 * g + m];
    } else {
      for (int i = 0; i < E / 8; ++i)
        for (int r = 0; r < kGemmRows; ++r)
          for (int m = 0; m < 4; ++m)
            qs[64 * i + 4 * r + m] = uint8_t((rb[r].q[8 * i + m] & 15) | ((rb[r].q[8 * i + 4 + m] & 15) << 4));
    }
  }
  if (L.block.hb) {
    uint8_t* hb = group + L.hb + size_t(b) * L.block.record();
    for (int g = 0; g < E / 4; ++g) {
      uint64_t bits = 0;
      for (int r = 0; r < kGemmRows; ++r)
        for (int m = 0; m < 4; ++m) bits |= uint64_t((rb[r].q[4 * g + m] >> 4) & 1) << (4 * r + m);
      std::memcpy(hb + 8 * g, &bits, 8);
    }
  }
  if (L.block.h2) {
    uint8_t* h2 = group + L.h2 + size_t(b) * L.block.record();
    const int shift = type == GgmlType::Q2_K ? 0 : 4;  // Q2_K's quants, or bits 4-5 of Q6_K's
    for (int h = 0; h < E / 16; ++h)
      for (int r = 0; r < kGemmRows; ++r)
        for (int m = 0; m < 4; ++m) {
          int v = 0;
          for (int c = 0; c < 4; ++c) v |= ((rb[r].q[4 * (4 * h + c) + m] >> shift) & 3) << (2 * c);
          h2[64 * h + 4 * r + m] = uint8_t(v);
        }
  }
  if (L.block.sc) {
    uint8_t* sc = group + L.sc + size_t(b) * L.block.record();
    const int n_sub = int(L.block.sc / kGemmRows);
    for (int j = 0; j < n_sub; ++j)
      for (int r = 0; r < kGemmRows; ++r) sc[kGemmRows * j + r] = rb[r].sc[j];
  }
  if (L.block.mn) {
    uint8_t* mn = group + L.mn + size_t(b) * L.block.record();
    for (int p = 0; p < int(L.block.mn / (2 * kGemmRows)); ++p)
      for (int r = 0; r < kGemmRows; ++r)
        for (int k = 0; k < 2; ++k) mn[2 * kGemmRows * p + 2 * r + k] = rb[r].mn[2 * p + k];
  }
  uint8_t* d = group + L.d + size_t(b) * L.block.record();
  const size_t d_bytes = L.block.d / kGemmRows;  // 2 (fp16), or 1 (MXFP4's exponent, the low byte)
  for (int r = 0; r < kGemmRows; ++r) {
    const uint8_t v[2] = {uint8_t(rb[r].d & 0xff), uint8_t(rb[r].d >> 8)};
    std::memcpy(d + d_bytes * r, v, d_bytes);
  }
  if (L.block.m) {
    uint8_t* m = group + L.m + size_t(b) * L.block.record();
    for (int r = 0; r < kGemmRows; ++r) std::memcpy(m + 2 * r, &rb[r].m, 2);
  }
}

}  // namespace

bool can_pack(GgmlType type) { return packed_block_bytes(type).elements != 0; }

PackedLayout packed_layout(GgmlType type, int64_t cols) {
  PackedLayout L;
  L.block = packed_block_bytes(type);
  if (L.block.elements == 0) throw Error("no packed layout for tensor type " + std::string(ggml_type_name(type)));
  if (cols < 0 || cols % L.block.elements != 0)
    throw Error(std::to_string(cols) + " columns is not a whole number of " + std::string(ggml_type_name(type)) +
                " blocks");
  // The quants first in a record. Records are not padded (decode streams every byte): their
  // sizes are multiples of 32 (MXFP4's 272 bytes excepted), so the 32-byte halves of a k-group
  // stay 32-byte aligned, and 64-byte aligned where the record is a multiple of 64.
  const size_t nb = size_t(cols / L.block.elements);
  size_t off = 0;
  auto place = [&](size_t bytes, size_t& at) {
    at = off;
    off += bytes;
  };
  place(L.block.qs, L.qs);
  place(L.block.hb, L.hb);
  place(L.block.h2, L.h2);
  place(L.block.sc, L.sc);
  place(L.block.mn, L.mn);
  place(L.block.d, L.d);
  place(L.block.m, L.m);
  L.group_bytes = (nb * off + 63) / 64 * 64;
  return L;
}

namespace {
constexpr size_t kHugePage = size_t(2) << 20;

// size bytes aligned to `align` (a power of two dividing the rounded size), as transparent huge
// pages where the system allows it and the block is big enough for one.
uint8_t* allocate(size_t size, size_t align) {
  const size_t bytes = (std::max<size_t>(size, 64) + align - 1) / align * align;  // aligned_alloc wants a multiple
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(align, bytes));
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (align == kHugePage) madvise(p, bytes, MADV_HUGEPAGE);  // advisory: failure is fine
#endif
  return p;
}
}  // namespace

void PackedArena::Free::operator()(uint8_t* p) const { std::free(p); }

PackedArena::PackedArena(size_t bytes) : data_(allocate(bytes, kHugePage)), size_(bytes) {}

uint8_t* PackedArena::take(size_t bytes) {
  if (bytes % 64 != 0 || bytes > size_ - used_) throw Error("packed weight arena: out of room");
  uint8_t* p = data_.get() + used_;
  used_ += bytes;
  return p;
}

size_t packed_bytes(GgmlType type, int64_t rows, int64_t cols) {
  return size_t((rows + kGemmRows - 1) / kGemmRows) * packed_layout(type, cols).group_bytes;
}

void PackedWeights::Free::operator()(uint8_t* p) const { std::free(p); }

PackedWeights::PackedWeights(GgmlType type, const uint8_t* data, int64_t rows, int64_t cols, size_t row_stride,
                             std::shared_ptr<PackedArena> arena)
    : type_(type), rows_(rows), cols_(cols), groups_((rows + kGemmRows - 1) / kGemmRows), layout_(packed_layout(type, cols)),
      arena_(std::move(arena)) {
  const size_t bytes = size_t(groups_) * layout_.group_bytes;
  if (arena_) {
    data_ = arena_->take(bytes);
  } else {
    // Large copies go to huge pages on their own (one fault per 2 MiB at load, fewer TLB misses).
    owned_.reset(allocate(bytes, bytes >= kHugePage ? kHugePage : 64));
    data_ = owned_.get();
  }
  const int64_t nb = cols / layout_.block.elements;
  const size_t block_bytes = ggml_type_info(uint32_t(type))->block_bytes;
  const size_t used = size_t(nb) * layout_.block.record();  // the last record ends here
  auto pack_groups = [&](int64_t g0, int64_t g1) {
    RowBlock rb[kGemmRows];
    for (int64_t g = g0; g < g1; ++g) {
      uint8_t* group = data_ + size_t(g) * layout_.group_bytes;
      std::memset(group + used, 0, layout_.group_bytes - used);
      if (type == GgmlType::Q8_0 && (g + 1) * kGemmRows <= rows) {
        // The bulk of most models' bytes: a 4-byte transpose, done directly.
        for (int64_t b = 0; b < nb; ++b) {
          uint8_t* qs = group + layout_.qs + size_t(b) * layout_.block.record();
          uint8_t* d = group + layout_.d + size_t(b) * layout_.block.record();
          for (int r = 0; r < kGemmRows; ++r) {
            const auto* blk = reinterpret_cast<const BlockQ8_0*>(data + size_t(g * kGemmRows + r) * row_stride) + b;
            std::memcpy(d + 2 * r, &blk->d, 2);
            for (int k = 0; k < 8; ++k) std::memcpy(qs + 64 * k + 4 * r, blk->qs + 4 * k, 4);
          }
        }
        continue;
      }
      for (int64_t b = 0; b < nb; ++b) {
        for (int r = 0; r < kGemmRows; ++r) {
          const int64_t row = g * kGemmRows + r;
          if (row < rows) unpack(type, data + size_t(row) * row_stride + size_t(b) * block_bytes, rb[r]);
          else std::memset(&rb[r], 0, sizeof rb[r]);  // padding rows: all zero, never read back
        }
        pack_block(type, layout_, rb, group, b);
      }
    }
  };
  // A one-time copy at model load: big matrices are split over a few short-lived threads.
  constexpr size_t kBytesPerThread = size_t(16) << 20;
  const int64_t n_threads = std::clamp<int64_t>(int64_t(bytes / kBytesPerThread), 1,
                                                std::max<int64_t>(1, std::thread::hardware_concurrency()));
  if (n_threads == 1) {
    pack_groups(0, groups_);
    return;
  }
  std::vector<std::thread> threads;
  const int64_t per = (groups_ + n_threads - 1) / n_threads;
  for (int64_t i = 1; i < n_threads; ++i)
    threads.emplace_back(pack_groups, std::min(groups_, i * per), std::min(groups_, (i + 1) * per));
  pack_groups(0, std::min(groups_, per));
  for (auto& t : threads) t.join();
}

size_t act_extra_bytes(GgmlType act_type, int64_t cols) {
  switch (act_type) {
    case GgmlType::Q8_0: return size_t(cols / kQK) * sizeof(ActExtrasQ8_0);
    case GgmlType::Q8_1: return size_t(cols / kQK) * sizeof(ActExtrasQ8_1);
    case GgmlType::Q8_K: return size_t(cols / kQK_K) * sizeof(ActExtrasQ8_K);
    default: return 0;
  }
}

void compute_act_extras(GgmlType act_type, const void* row, void* extras, int64_t cols) {
  switch (act_type) {
    case GgmlType::Q8_0: {
      auto* x = static_cast<const BlockQ8_0*>(row);
      auto* e = static_cast<ActExtrasQ8_0*>(extras);
      for (int64_t b = 0; b < cols / kQK; ++b) {
        int32_t s = 0;
        for (int j = 0; j < kQK; ++j) s += x[b].qs[j];
        e[b] = {fp16_to_fp32(x[b].d), s};
      }
      break;
    }
    case GgmlType::Q8_1: {
      auto* x = static_cast<const BlockQ8_1*>(row);
      auto* e = static_cast<ActExtrasQ8_1*>(extras);
      for (int64_t b = 0; b < cols / kQK; ++b) e[b] = {fp16_to_fp32(x[b].d), fp16_to_fp32(x[b].s)};
      break;
    }
    case GgmlType::Q8_K: {
      auto* x = static_cast<const BlockQ8_K*>(row);
      auto* e = static_cast<ActExtrasQ8_K*>(extras);
      for (int64_t b = 0; b < cols / kQK_K; ++b) {
        // Q4_K/Q5_K take their mins against the stored bsums, as the reference does; Q6_K's
        // offset of 32 is applied to the sums of the quants themselves, as the reference does.
        for (int j = 0; j < 8; ++j) e[b].sub_sums[j] = int16_t(x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        for (int j = 0; j < 16; ++j) {
          int32_t s = 0;
          for (int l = 0; l < 16; ++l) s += x[b].qs[16 * j + l];
          e[b].neg32_bsums[j] = -32 * s;
        }
      }
      break;
    }
    default: break;
  }
}

}  // namespace nagare
