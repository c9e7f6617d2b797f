// A corrupt or hostile GGUF file must give one nagare::Error naming the file and the problem —
// never a crash, a hang or a huge allocation. Run these under ASan/UBSan (-DNAGARE_SANITIZE=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf_test_util.h"

// Records the largest single allocation while armed, so tests can assert that an absurd count in
// a small file is rejected before anything is allocated for it.
namespace {
std::atomic<bool> g_track{false};
std::atomic<size_t> g_max_alloc{0};
void* tracked_alloc(size_t n) {
  if (g_track.load(std::memory_order_relaxed)) {
    size_t m = g_max_alloc.load(std::memory_order_relaxed);
    while (n > m && !g_max_alloc.compare_exchange_weak(m, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace
void* operator new(size_t n) { return tracked_alloc(n); }
void* operator new[](size_t n) { return tracked_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace nagare {
namespace {

using testing::Bytes;
using testing::expect_error;
using T = GgufValueType;

constexpr size_t kAllocLimit = 1 << 20;  // far above what a few-KB file legitimately needs

class AllocTracker {
 public:
  AllocTracker() {
    g_max_alloc = 0;
    g_track = true;
  }
  ~AllocTracker() { g_track = false; }
  size_t max() const { return g_max_alloc; }
};

std::unique_ptr<GgufFile> parse(const std::vector<uint8_t>& b) { return GgufFile::from_bytes("fuzz.gguf", b); }

// Parses `b` and requires an Error containing every part, with no allocation over kAllocLimit.
void expect_bad(const std::vector<uint8_t>& b, std::initializer_list<std::string> parts) {
  AllocTracker t;
  std::vector<std::string> want{"fuzz.gguf"};
  want.insert(want.end(), parts.begin(), parts.end());
  try {
    parse(b);
    ADD_FAILURE() << "parsed without error; expected: " << *parts.begin();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : want) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
  EXPECT_LT(t.max(), kAllocLimit);
}

// A small file with every value type, nested arrays and tensors of several types.
GgufWriter small_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.context_length", 128);
  w.set_f32("llama.rope.freq_base", 10000.f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_i8("t.i8", -3);
  w.set_u16("t.u16", 7);
  w.set_i64("t.i64", -9);
  w.set_f64("t.f64", 2.5);
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b"});
  w.set_f32_array("tokenizer.ggml.scores", {0, -1, -2, -3});
  w.set("t.nested", GgufValue::make_array(T::ARRAY, {GgufValue::make_array(T::UINT8, {GgufValue::make_uint(T::UINT8, 1)}),
                                                     GgufValue::make_array(T::STRING, {GgufValue::make_string("x")})}));
  std::vector<uint8_t> d(512);
  for (size_t i = 0; i < d.size(); ++i) d[i] = uint8_t(i * 13);
  w.add_tensor("token_embd.weight", GgmlType::Q8_0, {32, 4}, d.data(), 4 * 34);
  w.add_tensor("output_norm.weight", GgmlType::F32, {5}, d.data(), 20);
  w.add_tensor("blk.0.attn_q.weight", GgmlType::Q4_K, {256}, d.data(), 144);
  return w;
}

// Touches everything a parsed file exposes, so ASan sees any out-of-bounds pointer.
size_t exercise(const GgufFile& f) {
  size_t sum = 0;
  for (const auto& key : f.metadata_order()) sum += f.find(key)->to_display(4).size();
  for (const auto& t : f.tensors()) {
    EXPECT_LE(f.data_offset() + t.offset + t.nbytes, f.file_size());
    if (t.nbytes) sum += t.data[0] + t.data[t.nbytes - 1];
    sum += size_t(t.n_elements());
  }
  return sum;
}

TEST(GgufRobustness, EveryPrefixIsAnError) {
  auto full = small_writer().to_bytes();
  auto ref = parse(full);
  const auto& last = ref->tensors().back();
  const size_t needed = ref->data_offset() + last.offset + last.nbytes;  // the rest is padding
  testing::TempDir dir;
  for (size_t len = 0; len <= full.size(); ++len) {
    std::vector<uint8_t> prefix(full.begin(), full.begin() + len);
    const std::string path = dir.file("prefix-" + std::to_string(len) + ".gguf");
    testing::write_file(path, prefix);
    if (len < needed) {
      expect_error([&] { GgufFile::open(path); }, {path, "invalid GGUF file"});
      expect_error([&] { parse(prefix); }, {"fuzz.gguf: invalid GGUF file"});
    } else {
      EXPECT_NO_THROW(exercise(*GgufFile::open(path))) << len;
    }
    std::remove(path.c_str());
  }
}

void fuzz(uint64_t seed, int iterations, const std::vector<uint8_t>& base) {
  std::mt19937_64 rng(seed);
  static const uint64_t kInteresting[] = {0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 31, 32, 33, 255, 256, 0xffff, 0x10000,
                                          0x7fffffff, 0x80000000, 0xffffffff, uint64_t(1) << 32, uint64_t(1) << 40,
                                          uint64_t(1) << 60, uint64_t(1) << 63, ~uint64_t(0), ~uint64_t(0) - 1};
  size_t parsed = 0, rejected = 0;
  AllocTracker tracker;
  for (int it = 0; it < iterations; ++it) {
    std::vector<uint8_t> b = base;
    int mutations = 1 + int(rng() % 4);
    for (int m = 0; m < mutations && !b.empty(); ++m) {
      size_t pos = rng() % b.size();
      switch (rng() % 6) {
        case 0: b[pos] ^= uint8_t(1u << (rng() % 8)); break;  // bit flip
        case 1: b[pos] = uint8_t(rng()); break;               // random byte
        case 2: {                                             // interesting 1/4/8-byte value
          uint64_t v = kInteresting[rng() % std::size(kInteresting)];
          size_t width = size_t(1) << (rng() % 4);
          for (size_t k = 0; k < width && pos + k < b.size(); ++k) b[pos + k] = uint8_t(v >> (8 * k));
          break;
        }
        case 3: b.resize(pos); break;                                   // truncate
        case 4: b.insert(b.begin() + pos, uint8_t(rng())); break;       // insert a byte
        case 5: b.erase(b.begin() + pos); break;                        // delete a byte
      }
    }
    try {
      auto f = parse(b);
      exercise(*f);
      ++parsed;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("fuzz.gguf: ", 0), 0u) << e.what();
      ++rejected;
    }
  }
  EXPECT_LT(tracker.max(), kAllocLimit);
  // Both outcomes occur, so the mutations reach past the header checks.
  EXPECT_GT(parsed, 0u) << "seed " << seed;
  EXPECT_GT(rejected, 0u) << "seed " << seed;
}

TEST(GgufRobustness, RandomMutationsParseOrError) {
  auto base = small_writer().to_bytes();
  for (uint64_t seed : {1, 2, 3, 4, 5}) fuzz(seed, 2000, base);
}

TEST(GgufRobustness, RandomMutationsOfHeaderOnlyFile) {
  // Mutations concentrate on the header and metadata when there is no tensor data.
  GgufWriter w(2);
  w.set_string("general.architecture", "x");
  w.set_i32_array("a", {1, 2, 3});
  w.set("n", GgufValue::make_array(T::ARRAY, {GgufValue::make_array(T::BOOL, {GgufValue::make_bool(true)})}));
  w.add_tensor_f32("t", {1}, {1.f});
  for (uint64_t seed : {11, 12, 13}) fuzz(seed, 2000, w.to_bytes());
}

TEST(GgufRobustness, AbsurdCountsRejectedWithoutAllocating) {
  // tensor and metadata counts
  expect_bad(Bytes().header(3, uint64_t(1) << 60, 0).b, {"tensor count 1152921504606846976 is too large"});
  expect_bad(Bytes().header(3, 0, uint64_t(1) << 60).b, {"metadata count 1152921504606846976 is too large"});
  expect_bad(Bytes().header(3, 1000000, 0).pad(64).b, {"tensor count 1000000 does not fit"});
  expect_bad(Bytes().header(3, 0, 1000).pad(64).b, {"metadata count 1000 does not fit"});
  // string lengths: key, string value, tensor name
  expect_bad(Bytes().header(3, 0, 1).u64(uint64_t(1) << 63).pad(64).b, {"length 9223372036854775808 of metadata key is too large"});
  expect_bad(Bytes().header(3, 0, 1).u64(1000).str("k").pad(64).b, {"truncated while reading metadata key"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(8).u64(~uint64_t(0)).pad(64).b, {"string value is too large"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(8).u64(1 << 20).pad(64).b, {"truncated while reading string value"});
  expect_bad(Bytes().header(3, 1, 0).u64(uint64_t(1) << 62).pad(64).b, {"tensor name is too large"});
  // array lengths
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(9).u32(0).u64(uint64_t(1) << 62).pad(64).b, {"array length 4611686018427387904 is too large"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(9).u32(0).u64((1 << 24) + 1).pad(64).b, {"array length 16777217 is too large"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(9).u32(8).u64(1 << 24).pad(256).b, {"array of 16777216 string items does not fit"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(9).u32(10).u64(100).pad(256).b, {"array of 100 u64 items does not fit"});
  // An array of arrays each claiming many items: the total is bounded by the bytes present.
  {
    Bytes b;
    b.header(3, 0, 1).str("k").u32(9).u32(9).u64(20);
    for (int i = 0; i < 20; ++i) b.u32(0).u64(1 << 23);
    expect_bad(b.b, {"array of 8388608 u8 items does not fit"});
  }
  // Nesting deeper than the reader allows.
  {
    Bytes b;
    b.header(3, 0, 1).str("k").u32(9);
    for (int i = 0; i < 20; ++i) b.u32(9).u64(1);
    b.u32(0).u64(0);
    expect_bad(b.b, {"nested too deeply"});
  }
}

TEST(GgufRobustness, BadMagicAndVersions) {
  expect_bad(Bytes().u32(0x46554746).u32(3).u64(0).u64(0).b, {"bad magic (not a GGUF file)"});
  expect_bad(Bytes().u32(0x47475546).u32(3).u64(0).u64(0).b, {"bad magic"});  // "FUGG"
  expect_bad(std::vector<uint8_t>(100, 0), {"bad magic"});
  expect_bad(Bytes().header(1, 0, 0).b, {"unsupported GGUF version 1 (supported: 2, 3)"});
  expect_bad(Bytes().header(4, 0, 0).b, {"unsupported GGUF version 4"});
  expect_bad(Bytes().header(0, 0, 0).b, {"unsupported GGUF version 0"});
  expect_bad(Bytes().header(0x03000000, 0, 0).b, {"big-endian GGUF files are not supported"});
  expect_bad({}, {"too small (0 bytes"});
  expect_bad(Bytes().u32(0x46554747).u32(3).b, {"too small (8 bytes"});
  EXPECT_NO_THROW(parse(Bytes().header(2, 0, 0).b));
  EXPECT_NO_THROW(parse(Bytes().header(3, 0, 0).b));
}

TEST(GgufRobustness, BadValues) {
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(13).b, {"unknown metadata value type 13 for key 'k'"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(0xffffffff).b, {"unknown metadata value type 4294967295"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(9).u32(13).u64(0).b, {"unknown array element type 13"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(7).put<uint8_t>(2).b, {"bool value is 2, not 0 or 1"});
  expect_bad(Bytes().header(3, 0, 1).str("k").u32(6).put<uint16_t>(0).b, {"truncated while reading f32"});
  expect_bad(Bytes().header(3, 0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).b, {"duplicate metadata key 'k'"});
  expect_bad(Bytes().header(3, 0, 1).str("general.alignment").u32(4).u32(24).b, {"general.alignment must be a power of two", "24"});
  expect_bad(Bytes().header(3, 0, 1).str("general.alignment").u32(4).u32(0).b, {"general.alignment must be a power of two"});
  expect_bad(Bytes().header(3, 0, 1).str("general.alignment").u32(8).str("32").b, {"general.alignment is not an integer"});
}

TEST(GgufRobustness, BadTensors) {
  std::vector<uint8_t> d(64, 1);
  auto one = [&](const std::string& name, uint32_t type, std::vector<uint64_t> dims, size_t n,
                 std::optional<uint64_t> off = std::nullopt) {
    GgufWriter w;
    w.add_raw_tensor(name, type, std::move(dims), std::vector<uint8_t>(d.begin(), d.begin() + n), off);
    return w.to_bytes();
  };
  EXPECT_NO_THROW(parse(one("ok", 0, {4, 2}, 32)));
  expect_bad(one("t", 0, {}, 0), {"tensor 't' has 0 dimensions"});
  expect_bad(one("t", 0, {1, 1, 1, 1, 1}, 4), {"tensor 't' has 5 dimensions"});
  expect_bad(one("t", 0, {4, 0}, 0), {"tensor 't' has a zero dimension"});
  expect_bad(one("t", 0, {uint64_t(1) << 43}, 4), {"tensor 't' is too large"});
  // Products that overflow 64 (and 128) bits must not wrap around to something small.
  expect_bad(one("t", 0, {uint64_t(1) << 32, uint64_t(1) << 32, uint64_t(1) << 32, uint64_t(1) << 32}, 4), {"'t' is too large"});
  expect_bad(one("t", 0, {uint64_t(1) << 40, uint64_t(1) << 40, uint64_t(1) << 40, 256}, 4), {"'t' is too large"});
  expect_bad(one("t", 0, {~uint64_t(0)}, 4), {"'t' is too large"});
  expect_bad(one("t", 99, {4}, 16), {"tensor 't' has unknown type id 99"});
  expect_bad(one("t", 2, {16}, 18), {"row length 16 is not a multiple of the Q4_0 block size 32"});
  expect_bad(one("t", 0, {4}, 16, 4), {"tensor 't' offset 4 is not aligned to 32"});
  expect_bad(one("t", 0, {4}, 16, 1 << 20), {"tensor 't' data (offset 1048576, 16 bytes) extends past the end of the file"});
  expect_bad(one("t", 0, {4}, 16, ~uint64_t(0) - 31), {"extends past the end of the file"});
  expect_bad(one("t", 0, {64}, 16), {"tensor 't' data (offset 0, 256 bytes) extends past the end"});
  {
    GgufWriter w;
    w.add_raw_tensor("t", 0, {1}, {0, 0, 0, 0});
    w.add_raw_tensor("t", 0, {1}, {0, 0, 0, 0});
    expect_bad(w.to_bytes(), {"duplicate tensor name 't'"});
  }
  {
    auto b = small_writer().to_bytes();
    b.resize(b.size() - 100);  // cuts into the last tensor's data
    expect_bad(b, {"tensor 'blk.0.attn_q.weight' data", "extends past the end of the file"});
  }
  {  // index ends exactly at EOF: no room for the padded data section
    auto b = Bytes().header(3, 1, 0).str("t").u32(1).u64(1).u32(0).u64(0).b;
    expect_bad(b, {"data section starts past the end of the file"});
  }
}

TEST(GgufRobustness, FileSystemErrors) {
  testing::TempDir dir;
  const std::string missing = dir.file("no-such-model.gguf");
  expect_error([&] { GgufFile::open(missing); }, {missing, "cannot open", "No such file or directory"});
  expect_error([&] { GgufFile::open(dir.path()); }, {dir.path(), "is a directory"});
  const std::string empty = dir.file("empty.gguf");
  testing::write_file(empty, {});
  expect_error([&] { GgufFile::open(empty); }, {empty, "too small (0 bytes"});
  const std::string text = dir.file("model.txt");
  testing::write_file(text, std::vector<uint8_t>(64, 'x'));
  expect_error([&] { GgufFile::open(text); }, {text, "invalid GGUF file: bad magic"});
  expect_error([&] { GgufFile::open("/dev/null"); }, {"/dev/null", "not a regular file"});
}

}  // namespace
}  // namespace nagare
