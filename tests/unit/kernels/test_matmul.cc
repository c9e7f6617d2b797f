// matmul() on every ISA: the packed tile kernels equal vec_dot per element bit for bit (and the
// scalar reference), and each output element is bit-identical whatever
// the batch size, the token's position in the batch, the thread count and the ISA's tiling.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "gguf/gguf_file.h"
#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "kernels/quant_blocks.h"
#include "test_quant_util.h"
#include "util/error.h"

namespace nagare {
namespace {

using testing::float_bits;
using testing::random_row;

std::string name(GgmlType t) { return std::string(ggml_type_name(t)); }

const GgmlType kPackable[] = {GgmlType::Q4_0,   GgmlType::Q4_1,   GgmlType::Q5_0, GgmlType::Q5_1,
                              GgmlType::Q8_0,   GgmlType::Q4_K,   GgmlType::Q5_K, GgmlType::Q6_K,
                              GgmlType::Q2_K,   GgmlType::Q3_K,   GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                              GgmlType::MXFP4};

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> out;
  for (Isa isa : kAllIsas)
    if (const KernelTable* k = kernel_table(isa)) out.push_back(k);
  return out;
}

// A random weight matrix quantized with the reference quantizers, with its packed copy.
struct Weights {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
  Weights(GgmlType type, int64_t rows, int64_t cols, std::mt19937& rng, bool pack = true) {
    const size_t stride = row_bytes(type, cols);
    bytes.resize(stride * size_t(rows));
    for (int64_t r = 0; r < rows; ++r)
      quantize_row(type, random_row(rng, cols, -3, 1).data(), bytes.data() + size_t(r) * stride, cols);
    w = WeightMatrix{type, bytes.data(), rows, cols, stride, nullptr};
    if (pack && can_pack(type)) w.packed = std::make_shared<const PackedWeights>(type, bytes.data(), rows, cols, stride);
  }
};

std::vector<float> random_tokens(std::mt19937& rng, int64_t n_tokens, int64_t cols) {
  std::vector<float> x;
  for (int64_t t = 0; t < n_tokens; ++t) {
    auto row = random_row(rng, cols, -4, 3);
    x.insert(x.end(), row.begin(), row.end());
  }
  return x;
}

// out[t][r] for the whole batch; out_stride > rows, with a sentinel in the gap that must survive.
constexpr float kSentinel = -12345.0f;
std::vector<float> run(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens, ThreadPool& pool,
                       const KernelTable& k, int64_t pad = 3) {
  QuantizedActivations acts;
  acts.quantize(activation_type_for(w.type), x.data(), n_tokens, w.cols, w.cols, pool);
  const int64_t stride = w.rows + pad;
  std::vector<float> out(size_t(n_tokens * stride), kSentinel);
  matmul(w, acts, n_tokens, out.data(), stride, pool, k);
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t r = w.rows; r < stride; ++r) EXPECT_EQ(out[size_t(t * stride + r)], kSentinel) << "write outside the rows";
  std::vector<float> dense;
  for (int64_t t = 0; t < n_tokens; ++t) dense.insert(dense.end(), out.begin() + t * stride, out.begin() + t * stride + w.rows);
  return dense;
}

// Per-element vec_dot of the given table, the definition every matmul path must reproduce.
std::vector<float> per_element(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens, const KernelTable& k) {
  const GgmlType at = activation_type_for(w.type);
  std::vector<uint8_t> a(row_bytes(at, w.cols));
  std::vector<float> out;
  for (int64_t t = 0; t < n_tokens; ++t) {
    quantize_row(at, x.data() + t * w.cols, a.data(), w.cols);
    for (int64_t r = 0; r < w.rows; ++r) out.push_back(k.vec_dot_fn(w.type)(w.data + size_t(r) * w.row_stride, a.data(), w.cols));
  }
  return out;
}

void expect_bits_equal(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << what << ": element " << i << " got " << got[i] << " want " << want[i];
}

TEST(Matmul, PackedLayoutSizes) {
  // Each packed group holds exactly its 16 rows' bytes (the fp16 scales stay fp16), plus the
  // K-quants' unpacked scales and mins (Q2_K's: a byte each instead of a nibble; Q3_K's 3-bit
  // quants take 4 bits and its 6-bit scales a byte).
  for (GgmlType t : kPackable) {
    const int64_t blk = block_elements(t);
    const PackedLayout L = packed_layout(t, 4 * blk);
    const size_t per_block = L.block.qs + L.block.hb + L.block.h2 + L.block.sc + L.block.mn + L.block.d + L.block.m;
    const size_t gguf = ggml_type_info(uint32_t(t))->block_bytes * kGemmRows;
    if (blk == 32) EXPECT_EQ(per_block, gguf) << name(t);
    else EXPECT_LE(per_block, gguf + (t == GgmlType::Q3_K ? 36 : t == GgmlType::Q2_K ? 16 : 4) * kGemmRows) << name(t);
    EXPECT_EQ(L.group_bytes % 64, 0u);
    EXPECT_EQ(L.qs % 64, 0u);
  }
  EXPECT_THROW(packed_layout(GgmlType::F16, 64), Error);
  EXPECT_THROW(packed_layout(GgmlType::Q4_K, 128), Error);
  EXPECT_FALSE(can_pack(GgmlType::F32));
}

// Every ISA's matmul equals that ISA's per-element vec_dot and the scalar reference's, for
// every packable type; all SIMD ISAs agree with each other.
TEST(Matmul, TileKernelsEqualVecDotOnEveryIsa) {
  std::mt19937 rng(21);
  ThreadPool pool(2);
  const int64_t row_counts[] = {1, 7, 16, 33, 50, 64, 100};
  std::vector<GgmlType> types(std::begin(kPackable), std::end(kPackable));
  types.insert(types.end(), {GgmlType::F32, GgmlType::F16, GgmlType::BF16});  // their rows as the file keeps them
  for (GgmlType t : types) {
    const int64_t blk = block_elements(t);
    // Float rows: shorter than the 16 lanes, a partial last 16, and whole ones.
    const std::vector<int64_t> widths =
        blk == 1 ? std::vector<int64_t>{5, 40, 1024} : std::vector<int64_t>{blk, 3 * blk, blk == 32 ? 640 : 1024};
    for (int64_t cols : widths) {
      for (int64_t rows : row_counts) {
        Weights W(t, rows, cols, rng);
        // 1: the single-token (decode) tiles; 12 and 43: one-group tiles of 8 tokens (also past
        // 32, where a batch used to take other tiles) and the rest; 5: the small-batch tiles
        const int64_t n_tokens = rows == 100 ? 43 : rows % 3 == 0 ? 12 : rows % 2 ? 5 : 1;
        const auto x = random_tokens(rng, n_tokens, cols);
        const auto ref = per_element(W.w, x, n_tokens, *kernel_table(Isa::kScalar));
        std::vector<float> simd;
        for (const KernelTable* k : tables()) {
          const std::string what = std::string(isa_name(k->isa)) + " " + name(t) + " " + std::to_string(rows) + "x" + std::to_string(cols);
          const auto got = run(W.w, x, n_tokens, pool, *k);
          expect_bits_equal(got, per_element(W.w, x, n_tokens, *k), what + " vs its vec_dot");
          expect_bits_equal(got, ref, what + " vs the scalar reference");
          if (k->isa != Isa::kScalar) {
            if (simd.empty()) simd = got;
            else expect_bits_equal(got, simd, what + " vs the other SIMD ISA");
          }
        }
      }
    }
  }
}

// The largest integer sums the tiles can meet: every quant at its top code (all bits set),
// against activations all at +127 or all at -127. The AVX2 tiles keep some sums in 16 bits
// (pair sums that provably fit); an overflow there would show here as a wrong result.
TEST(Matmul, TileKernelsExactAtTheLargestSums) {
  ThreadPool pool(2);
  const uint16_t small = fp32_to_fp16(1.0f / 64);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K,
                     GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q3_K}) {
    const int64_t rows = 20, cols = 512, n_blocks = cols / block_elements(t);
    const size_t stride = row_bytes(t, cols), block = stride / size_t(n_blocks);
    std::vector<uint8_t> bytes(stride * rows, 0xFF);
    // The scale fields set to a small finite value (all-ones bytes are a NaN half).
    for (size_t b = 0; b < bytes.size() / block; ++b) {
      uint8_t* p = bytes.data() + b * block;
      auto set = [&](size_t offset) { std::memcpy(p + offset, &small, 2); };
      switch (t) {
        case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: set(0); set(2); break;
        case GgmlType::Q6_K: set(offsetof(BlockQ6_K, d)); break;
        case GgmlType::Q3_K: set(offsetof(BlockQ3_K, d)); break;
        default: set(0); break;
      }
    }
    WeightMatrix w{t, bytes.data(), rows, cols, stride, nullptr};
    w.packed = std::make_shared<const PackedWeights>(t, bytes.data(), rows, cols, stride);
    std::vector<float> x;
    for (float v : {1.0f, -1.0f, 1.0f, -1.0f, 1.0f}) x.insert(x.end(), size_t(cols), v);
    for (int64_t n_tokens : {1, 2, 5}) {
      const auto ref = per_element(w, x, n_tokens, *kernel_table(Isa::kScalar));
      for (const KernelTable* k : tables())
        expect_bits_equal(run(w, x, n_tokens, pool, *k), ref,
                          std::string(isa_name(k->isa)) + " " + name(t) + " tokens " + std::to_string(n_tokens));
    }
  }
}

// MXFP4 blocks of any bytes are valid: every E8M0 exponent, the subnormal scales of e = 0 and
// 1 included, through the packed path of every ISA equal the scalar reference.
TEST(Matmul, Mxfp4EveryExponent) {
  std::mt19937 rng(30);
  ThreadPool pool(2);
  const int64_t rows = 37, cols = 256, n_tokens = 5;
  const uint8_t exps[] = {0, 1, 2, 3, 64, 100, 127, 140};
  const size_t stride = row_bytes(GgmlType::MXFP4, cols);
  std::vector<uint8_t> bytes(stride * size_t(rows));
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = i % sizeof(BlockMXFP4) == 0 ? exps[rng() % std::size(exps)] : uint8_t(rng());
  WeightMatrix w{GgmlType::MXFP4, bytes.data(), rows, cols, stride, nullptr};
  w.packed = std::make_shared<const PackedWeights>(w.type, w.data, rows, cols, stride);
  const auto x = random_tokens(rng, n_tokens, cols);
  const auto ref = per_element(w, x, n_tokens, *kernel_table(Isa::kScalar));
  for (const KernelTable* k : tables()) expect_bits_equal(run(w, x, n_tokens, pool, *k), ref, std::string(isa_name(k->isa)));
}

// The heart of batch invariance: a token's outputs are the same bits alone, in any batch size,
// at any position, with any number of threads.
TEST(Matmul, BatchInvariance) {
  std::mt19937 rng(22);
  ThreadPool pool1(1), pool2(2), pool3(3);
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,   GgmlType::Q8_0,
                            GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                            GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::MXFP4, GgmlType::F32, GgmlType::F16,
                            GgmlType::BF16};
  for (GgmlType t : types) {
    const int64_t blk = block_elements(t);
    const int64_t cols = blk == 1 ? 75 : blk == 32 ? 576 : 512;
    const int64_t rows = 40;  // two full groups and a partial one
    Weights W(t, rows, cols, rng);
    const auto probe = random_row(rng, cols, -4, 3);
    for (const KernelTable* k : tables()) {
      const std::string what = std::string(isa_name(k->isa)) + " " + name(t);
      const auto alone = run(W.w, probe, 1, pool1, *k);
      // 13, 14, 23: tiles of 8 tokens and one of the last 5, 6, 7 (AVX-512)
      for (int64_t batch : {1, 2, 3, 7, 13, 14, 16, 23, 33}) {
        for (int64_t pos : {int64_t(0), batch / 2, batch - 1}) {
          auto x = random_tokens(rng, batch, cols);
          std::copy(probe.begin(), probe.end(), x.begin() + pos * cols);
          for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
            const auto out = run(W.w, x, batch, *pool, *k);
            const std::vector<float> mine(out.begin() + pos * rows, out.begin() + (pos + 1) * rows);
            expect_bits_equal(mine, alone,
                              what + " batch " + std::to_string(batch) + " pos " + std::to_string(pos) + " threads " +
                                  std::to_string(pool->size()));
          }
        }
      }
    }
  }
}

// Unpacked weights take the per-element path; it must give the packed path's bits.
TEST(Matmul, PackedAndUnpackedAgree) {
  std::mt19937 rng(23);
  ThreadPool pool(2);
  for (GgmlType t : kPackable) {
    const int64_t cols = block_elements(t) == 32 ? 320 : 768;
    Weights packed(t, 35, cols, rng);
    WeightMatrix plain = packed.w;
    plain.packed = nullptr;
    const auto x = random_tokens(rng, 9, cols);
    for (const KernelTable* k : tables())
      expect_bits_equal(run(packed.w, x, 9, pool, *k), run(plain, x, 9, pool, *k), std::string(isa_name(k->isa)) + " " + name(t));
  }
}

// Matrices carved one after another from one arena give the results of their own copies, and
// the arena refuses to hand out more than it holds.
TEST(Matmul, ArenaPackedWeights) {
  std::mt19937 rng(29);
  ThreadPool pool(2);
  std::vector<Weights> ws;
  size_t bytes = 0;
  for (GgmlType t : kPackable) {
    ws.emplace_back(t, 35, block_elements(t) == 32 ? 320 : 768, rng);
    bytes += packed_bytes(t, 35, ws.back().w.cols);
  }
  const auto arena = std::make_shared<PackedArena>(bytes);
  for (auto& w : ws) {
    WeightMatrix in_arena = w.w;
    in_arena.packed = std::make_shared<const PackedWeights>(w.w.type, w.w.data, w.w.rows, w.w.cols, w.w.row_stride, arena);
    const auto x = random_tokens(rng, 5, w.w.cols);
    expect_bits_equal(run(in_arena, x, 5, pool, active_kernels()), run(w.w, x, 5, pool, active_kernels()), name(w.w.type));
  }
  EXPECT_THROW(arena->take(64), Error);
}

// Real weight rows of both test models through the packed path.
TEST(Matmul, ModelWeights) {
  const std::pair<const char*, const char*> cases[] = {
      {"SmolLM2-135M-Instruct.Q4_1.gguf", "blk.0.ffn_down.weight"},  // Q4_1
      {"SmolLM2-135M-Instruct.Q4_1.gguf", "token_embd.weight"},      // Q8_0
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.attn_output.weight"},      // Q4_K
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.attn_q.weight"},           // Q5_0
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.ffn_down.weight"},         // Q6_K
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.attn_v.weight"},           // Q8_0
  };
  std::mt19937 rng(24);
  ThreadPool pool(2);
  for (auto [file, tensor] : cases) {
    const std::string path = std::string(NAGARE_SOURCE_DIR) + "/models/" + file;
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/fetch-models";
    auto model = GgufFile::open(path);
    const GgufTensor& gt = model->tensor(tensor);
    const int64_t cols = gt.dims[0], rows = std::min<int64_t>(gt.rows(), 100);
    WeightMatrix w{gt.type, gt.data, rows, cols, row_bytes(gt.type, cols), nullptr};
    w.packed = std::make_shared<const PackedWeights>(gt.type, gt.data, rows, cols, w.row_stride);
    const auto x = random_tokens(rng, 6, cols);
    for (const KernelTable* k : tables())
      expect_bits_equal(run(w, x, 6, pool, *k), per_element(w, x, 6, *k), std::string(isa_name(k->isa)) + " " + tensor);
  }
}

// One pool pass over several weights (q, k, v; gate, up) gives each the bits it gets alone.
TEST(Matmul, FusedJobsEqualSeparateCalls) {
  std::mt19937 rng(26);
  ThreadPool pool(2);
  const int64_t cols = 512;
  Weights q(GgmlType::Q5_0, 64, cols, rng), k(GgmlType::Q5_0, 16, cols, rng), v(GgmlType::Q8_0, 16, cols, rng);
  Weights kq(GgmlType::Q4_K, 40, cols, rng), f(GgmlType::F16, 9, cols, rng);
  for (int64_t n_tokens : {1, 7, 16}) {
    const auto x = random_tokens(rng, n_tokens, cols);
    QuantizedActivations a8, ak, ah;
    a8.quantize(GgmlType::Q8_0, x.data(), n_tokens, cols, cols, pool);
    ak.quantize(GgmlType::Q8_K, x.data(), n_tokens, cols, cols, pool);
    ah.quantize(GgmlType::F32, x.data(), n_tokens, cols, cols, pool);
    const std::pair<const Weights*, const QuantizedActivations*> parts[] = {{&q, &a8}, {&k, &a8}, {&v, &a8}, {&kq, &ak}, {&f, &ah}};
    std::vector<std::vector<float>> fused, alone;
    std::vector<MatmulJob> jobs;
    for (auto [W, acts] : parts) {
      fused.emplace_back(size_t(n_tokens * W->w.rows));
      alone.emplace_back(size_t(n_tokens * W->w.rows));
      jobs.push_back({&W->w, acts, fused.back().data(), W->w.rows});
      matmul(W->w, *acts, n_tokens, alone.back().data(), W->w.rows, pool);
    }
    matmul(jobs.data(), int(jobs.size()), n_tokens, pool);
    for (size_t j = 0; j < jobs.size(); ++j) expect_bits_equal(fused[j], alone[j], "job " + std::to_string(j));
  }
}

// Gate and up in one pass: each output as matmul() gives it, and done() is called once for
// every (row, token), on rows cut at multiples of align, after both matrices' rows are written.
TEST(Matmul, PairEqualsSeparateCallsAndHandsOverEveryRowOnce) {
  std::mt19937 rng(27);
  struct Case {
    GgmlType a, b;
    int64_t rows, cols, align;
    bool pack_b;
  };
  const Case cases[] = {
      {GgmlType::Q4_1, GgmlType::Q4_1, 1536 / 8, 320, 32, true},  // SmolLM2's formats
      {GgmlType::Q4_K, GgmlType::Q6_K, 300, 256, 256, true},      // ragged: 300 rows in 256-row cuts
      {GgmlType::Q5_0, GgmlType::Q5_0, 40, 320, 32, false},       // packed with the per-element path
      {GgmlType::F16, GgmlType::F16, 35, 64, 16, true},           // no tile kernels at all
  };
  for (const Case& c : cases)
    for (int threads : {1, 3})
      for (int64_t n_tokens : {1, 7, 70}) {
        ThreadPool pool(threads);
        const std::string what = name(c.a) + "+" + name(c.b) + " rows " + std::to_string(c.rows) + " tokens " +
                                 std::to_string(n_tokens) + " threads " + std::to_string(threads);
        Weights wa(c.a, c.rows, c.cols, rng), wb(c.b, c.rows, c.cols, rng, c.pack_b);
        const auto x = random_tokens(rng, n_tokens, c.cols);
        QuantizedActivations xa, xb;
        xa.quantize(activation_type_for(c.a), x.data(), n_tokens, c.cols, c.cols, pool);
        xb.quantize(activation_type_for(c.b), x.data(), n_tokens, c.cols, c.cols, pool);
        std::vector<float> want_a(size_t(n_tokens * c.rows)), want_b(want_a.size());
        matmul(wa.w, xa, n_tokens, want_a.data(), c.rows, pool);
        matmul(wb.w, xb, n_tokens, want_b.data(), c.rows, pool);

        std::vector<float> got_a(want_a.size(), kSentinel), got_b(want_a.size(), kSentinel);
        std::vector<std::atomic<int>> visits(want_a.size());
        std::atomic<int> bad_cut{0}, unfinished{0};
        matmul_pair({&wa.w, &xa, got_a.data(), c.rows}, {&wb.w, &xb, got_b.data(), c.rows}, n_tokens, c.align, pool,
                    [&](int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
                      if (r0 % c.align != 0 || (r1 % c.align != 0 && r1 != c.rows) || r0 >= r1 || t0 >= t1) ++bad_cut;
                      for (int64_t t = t0; t < t1; ++t)
                        for (int64_t r = r0; r < r1; ++r) {
                          const size_t i = size_t(t * c.rows + r);
                          ++visits[i];
                          if (got_a[i] == kSentinel || got_b[i] == kSentinel) ++unfinished;
                        }
                    });
        EXPECT_EQ(bad_cut.load(), 0) << what;
        EXPECT_EQ(unfinished.load(), 0) << what;
        for (size_t i = 0; i < visits.size(); ++i) ASSERT_EQ(visits[i].load(), 1) << what << ": element " << i;
        expect_bits_equal(got_a, want_a, what + " (a)");
        expect_bits_equal(got_b, want_b, what + " (b)");
        EXPECT_GT(matmul_pair_tasks(c.rows, n_tokens, c.align, threads), 0);
      }
  ThreadPool pool(1);
  Weights w32(GgmlType::Q8_0, 32, 64, rng), w48(GgmlType::Q8_0, 48, 64, rng);
  QuantizedActivations acts;
  const auto x = random_tokens(rng, 1, 64);
  acts.quantize(GgmlType::Q8_0, x.data(), 1, 64, 64, pool);
  std::vector<float> out(48);
  auto nothing = [](int64_t, int64_t, int64_t, int64_t) {};
  EXPECT_THROW(matmul_pair({&w32.w, &acts, out.data(), 32}, {&w48.w, &acts, out.data(), 48}, 1, 32, pool, nothing), Error);
  EXPECT_THROW(matmul_pair({&w32.w, &acts, out.data(), 32}, {&w32.w, &acts, out.data(), 32}, 1, 24, pool, nothing), Error);
}

// A row quantized in block-aligned pieces is the row quantized whole, side data included.
TEST(Matmul, QuantizeColsEqualsQuantizeRow) {
  std::mt19937 rng(28);
  ThreadPool pool(1);
  const int64_t cols = 768;
  const auto x = random_tokens(rng, 2, cols);
  for (GgmlType act : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16, GgmlType::BF16, GgmlType::F32}) {
    QuantizedActivations whole, pieces;
    whole.quantize(act, x.data(), 2, cols, cols, pool);
    pieces.resize(act, 2, cols);
    const int64_t b = pieces.elements_per_block();
    // Cuts at random block boundaries, the last piece ending at the rows' end; the first piece
    // a row at a time, the others for both rows together.
    for (int64_t c0 = 0; c0 < cols;) {
      const int64_t c1 = std::min(cols, c0 + b * std::uniform_int_distribution<int64_t>(1, 5)(rng));
      if (c0 == 0) {
        pieces.quantize_cols(x.data(), cols, 0, 1, c0, c1);
        pieces.quantize_cols(x.data(), cols, 1, 2, c0, c1);
      } else {
        pieces.quantize_cols(x.data(), cols, 0, 2, c0, c1);
      }
      c0 = c1;
    }
    for (int64_t t = 0; t < 2; ++t) {
      EXPECT_EQ(std::memcmp(whole.row(t), pieces.row(t), whole.row_bytes()), 0) << name(act) << " row " << t;
      if (whole.extra_bytes() > 0) {
        EXPECT_EQ(std::memcmp(whole.extras(t), pieces.extras(t), whole.extra_bytes()), 0) << name(act) << " extras " << t;
      }
    }
    if (b > 1) {
      EXPECT_THROW(pieces.quantize_cols(x.data(), cols, 0, 1, 1, b + 1), Error) << name(act);
      EXPECT_THROW(pieces.quantize_cols(x.data(), cols, 0, 1, 0, b + 1), Error) << name(act);
    }
    EXPECT_THROW(pieces.quantize_cols(x.data(), cols, 0, 1, 0, cols + b), Error) << name(act);
  }
}

TEST(Matmul, RejectsMismatchedActivations) {
  std::mt19937 rng(25);
  ThreadPool pool(1);
  Weights W(GgmlType::Q4_K, 16, 256, rng);
  QuantizedActivations acts;
  const auto x = random_tokens(rng, 1, 256);
  acts.quantize(GgmlType::Q8_0, x.data(), 1, 256, 256, pool);
  std::vector<float> out(16);
  EXPECT_THROW(matmul(W.w, acts, 1, out.data(), 16, pool), Error);
}

}  // namespace
}  // namespace nagare
