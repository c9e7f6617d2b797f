// GgufWriter -> GgufFile round trips: every value type (nested arrays too), GGUF v2 and v3,
// alignments 1/8/32/64, tensor data placement; and the writer's own argument checks.
#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gguf/gguf_file.h"
#include "gguf_test_util.h"

namespace nagare {
namespace {

using testing::expect_error;
using T = GgufValueType;

GgufValue arr(T elem, std::vector<GgufValue> items) { return GgufValue::make_array(elem, std::move(items)); }

// One key per value type, extreme values included, plus arrays of each type and nested arrays.
std::vector<std::pair<std::string, GgufValue>> all_values() {
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("t.u8", GgufValue::make_uint(T::UINT8, 255));
  kv.emplace_back("t.i8", GgufValue::make_int(T::INT8, -128));
  kv.emplace_back("t.u16", GgufValue::make_uint(T::UINT16, 65535));
  kv.emplace_back("t.i16", GgufValue::make_int(T::INT16, -32768));
  kv.emplace_back("t.u32", GgufValue::make_uint(T::UINT32, 0xffffffffu));
  kv.emplace_back("t.i32", GgufValue::make_int(T::INT32, std::numeric_limits<int32_t>::min()));
  kv.emplace_back("t.u64", GgufValue::make_uint(T::UINT64, ~uint64_t(0)));
  kv.emplace_back("t.i64", GgufValue::make_int(T::INT64, std::numeric_limits<int64_t>::min()));
  kv.emplace_back("t.f32", GgufValue::make_float(T::FLOAT32, 0.1));
  kv.emplace_back("t.f32.nan", GgufValue::make_float(T::FLOAT32, std::nan("")));
  kv.emplace_back("t.f32.inf", GgufValue::make_float(T::FLOAT32, -INFINITY));
  kv.emplace_back("t.f32.denorm", GgufValue::make_float(T::FLOAT32, std::numeric_limits<float>::denorm_min()));
  kv.emplace_back("t.f64", GgufValue::make_float(T::FLOAT64, 0.1));
  kv.emplace_back("t.f64.neg0", GgufValue::make_float(T::FLOAT64, -0.0));
  kv.emplace_back("t.bool.true", GgufValue::make_bool(true));
  kv.emplace_back("t.bool.false", GgufValue::make_bool(false));
  kv.emplace_back("t.string", GgufValue::make_string("h\xc3\xa9llo\n\"w\"\t\\"));
  kv.emplace_back("t.string.empty", GgufValue::make_string(""));
  kv.emplace_back("t.string.nul", GgufValue::make_string(std::string("a\0b", 3)));
  kv.emplace_back("", GgufValue::make_string("empty key"));
  kv.emplace_back("t.arr.u8", arr(T::UINT8, {GgufValue::make_uint(T::UINT8, 0), GgufValue::make_uint(T::UINT8, 200)}));
  kv.emplace_back("t.arr.i8", arr(T::INT8, {GgufValue::make_int(T::INT8, -1)}));
  kv.emplace_back("t.arr.u16", arr(T::UINT16, {GgufValue::make_uint(T::UINT16, 1), GgufValue::make_uint(T::UINT16, 2)}));
  kv.emplace_back("t.arr.i16", arr(T::INT16, {GgufValue::make_int(T::INT16, -300)}));
  kv.emplace_back("t.arr.u32", arr(T::UINT32, {GgufValue::make_uint(T::UINT32, 7)}));
  kv.emplace_back("t.arr.i32", arr(T::INT32, {GgufValue::make_int(T::INT32, -7), GgufValue::make_int(T::INT32, 8)}));
  kv.emplace_back("t.arr.u64", arr(T::UINT64, {GgufValue::make_uint(T::UINT64, uint64_t(1) << 63)}));
  kv.emplace_back("t.arr.i64", arr(T::INT64, {GgufValue::make_int(T::INT64, -(int64_t(1) << 62))}));
  kv.emplace_back("t.arr.f32", arr(T::FLOAT32, {GgufValue::make_float(T::FLOAT32, 1.5), GgufValue::make_float(T::FLOAT32, -2e-3)}));
  kv.emplace_back("t.arr.f64", arr(T::FLOAT64, {GgufValue::make_float(T::FLOAT64, 3.141592653589793)}));
  kv.emplace_back("t.arr.bool", arr(T::BOOL, {GgufValue::make_bool(true), GgufValue::make_bool(false)}));
  kv.emplace_back("t.arr.string", arr(T::STRING, {GgufValue::make_string("a"), GgufValue::make_string(""),
                                                  GgufValue::make_string("\xe2\x96\x81the")}));
  kv.emplace_back("t.arr.empty", arr(T::INT32, {}));
  kv.emplace_back("t.arr.nested",
                  arr(T::ARRAY, {arr(T::INT32, {GgufValue::make_int(T::INT32, 1), GgufValue::make_int(T::INT32, 2)}),
                                 arr(T::STRING, {GgufValue::make_string("x")}),
                                 arr(T::ARRAY, {arr(T::FLOAT64, {GgufValue::make_float(T::FLOAT64, 0.5)})}),
                                 arr(T::BOOL, {})}));
  return kv;
}

struct Tensor {
  std::string name;
  GgmlType type;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

std::vector<Tensor> some_tensors() {
  auto bytes = [](size_t n, uint8_t seed) {
    std::vector<uint8_t> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 31);
    return b;
  };
  return {
      {"a.weight", GgmlType::F32, {3}, bytes(12, 1)},                // 12 bytes: needs padding for any alignment > 4
      {"b.weight", GgmlType::F16, {5, 3}, bytes(30, 2)},
      {"blk.0.q", GgmlType::Q4_0, {64, 2}, bytes(2 * 2 * 18, 3)},
      {"blk.0.k", GgmlType::Q4_K, {256, 1, 2, 1}, bytes(2 * 144, 4)},
      {"blk.0.v", GgmlType::Q8_0, {32}, bytes(34, 5)},
      {"c.i8", GgmlType::I8, {1}, bytes(1, 6)},
  };
}

class RoundTrip : public ::testing::TestWithParam<std::tuple<uint32_t, uint32_t>> {};

TEST_P(RoundTrip, EveryValueTypeAndTensor) {
  auto [version, alignment] = GetParam();
  GgufWriter w(version);
  auto kv = all_values();
  for (auto& [k, v] : kv) w.set(k, v);
  if (alignment != 32) w.set_alignment(alignment);
  auto tensors = some_tensors();
  for (auto& t : tensors) w.add_tensor(t.name, t.type, t.dims, t.data.data(), t.data.size());

  testing::TempDir dir;
  const std::string path = dir.file("rt.gguf");
  w.write(path);
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), version);
  EXPECT_EQ(f->alignment(), alignment);
  EXPECT_EQ(f->data_offset() % alignment, 0u);
  EXPECT_EQ(f->file_size() % alignment, 0u);  // every tensor is padded, the last one too

  size_t n_keys = kv.size() + (alignment != 32 ? 1 : 0);
  ASSERT_EQ(f->metadata().size(), n_keys);
  ASSERT_EQ(f->metadata_order().size(), n_keys);
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(f->metadata_order()[i], kv[i].first);
    const GgufValue* v = f->find(kv[i].first);
    ASSERT_NE(v, nullptr) << kv[i].first;
    EXPECT_TRUE(*v == kv[i].second) << kv[i].first << ": " << v->to_display() << " vs " << kv[i].second.to_display();
  }
  if (alignment != 32) {
    EXPECT_EQ(f->get_int("general.alignment"), alignment);
  }

  ASSERT_EQ(f->tensors().size(), tensors.size());
  uint64_t expect_offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensor& t = f->tensors()[i];
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.type, tensors[i].type);
    EXPECT_EQ(t.dims, tensors[i].dims);
    EXPECT_EQ(t.offset, expect_offset);
    EXPECT_EQ(t.nbytes, tensors[i].data.size());
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.nbytes), tensors[i].data) << t.name;
    EXPECT_EQ(&f->tensor(t.name), &t);
    expect_offset += (t.nbytes + alignment - 1) / alignment * alignment;
  }

  // The in-memory path sees the same file, and writing is deterministic.
  auto bytes = w.to_bytes();
  auto g = GgufFile::from_bytes("mem", bytes);
  EXPECT_EQ(g->metadata_order(), f->metadata_order());
  EXPECT_EQ(g->data_offset(), f->data_offset());
  EXPECT_EQ(bytes, w.to_bytes());
}

INSTANTIATE_TEST_SUITE_P(VersionsAndAlignments, RoundTrip,
                         ::testing::Combine(::testing::Values(2u, 3u), ::testing::Values(1u, 8u, 32u, 64u)));

TEST(GgufWriter, SetReplacesInPlaceAndTypedHelpers) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.context_length", 2048);
  w.set_u32("llama.context_length", 4096);
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "a"});
  w.set_i32_array("tokenizer.ggml.token_type", {3, 3, 1});
  w.set_f32_array("tokenizer.ggml.scores", {0.f, -1.f, -2.5f});
  w.set_u8("k.u8", 1);
  w.set_i8("k.i8", -1);
  w.set_u16("k.u16", 2);
  w.set_i16("k.i16", -2);
  w.set_i32("k.i32", -3);
  w.set_u64("k.u64", 4);
  w.set_i64("k.i64", -4);
  w.set_f32("k.f32", 0.25f);
  w.set_f64("k.f64", 0.125);
  w.set_bool("k.bool", true);
  EXPECT_EQ(w.metadata_count(), 15u);
  auto f = GgufFile::from_bytes("mem", w.to_bytes());
  EXPECT_EQ(f->metadata_order()[1], "llama.context_length");
  EXPECT_EQ(f->get_int("llama.context_length"), 4096);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"<s>", "</s>", "a"}));
  EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type"), (std::vector<int64_t>{3, 3, 1}));
  EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores"), (std::vector<double>{0, -1, -2.5}));
  EXPECT_EQ(f->get_int("k.u8"), 1);
  EXPECT_EQ(f->get_int("k.i8"), -1);
  EXPECT_EQ(f->get_int("k.u16"), 2);
  EXPECT_EQ(f->get_int("k.i16"), -2);
  EXPECT_EQ(f->get_int("k.i32"), -3);
  EXPECT_EQ(f->get_int("k.u64"), 4);
  EXPECT_EQ(f->get_int("k.i64"), -4);
  EXPECT_EQ(f->get_float("k.f32"), 0.25);
  EXPECT_EQ(f->get_float("k.f64"), 0.125);
  EXPECT_TRUE(f->get_bool("k.bool", false));
  EXPECT_EQ(f->find("k.u8")->type, GgufValueType::UINT8);
  EXPECT_EQ(f->find("k.f64")->type, GgufValueType::FLOAT64);
  // Defaults, and type errors that name the file and key.
  EXPECT_EQ(f->get_int("absent", 7), 7);
  EXPECT_EQ(f->get_string("absent", "d"), "d");
  expect_error([&] { f->get_int("general.architecture"); }, {"mem", "general.architecture", "integer", "string"});
  expect_error([&] { f->get_string("llama.context_length"); }, {"mem", "llama.context_length", "string"});
  expect_error([&] { f->get_string("absent"); }, {"mem", "missing metadata key 'absent'"});
  expect_error([&] { f->tensor("nope"); }, {"mem", "missing tensor 'nope'"});
}

TEST(GgufWriter, NoTensorsAndEmptyFile) {
  GgufWriter w(2);
  auto f = GgufFile::from_bytes("mem", w.to_bytes());
  EXPECT_EQ(f->version(), 2u);
  EXPECT_TRUE(f->metadata().empty());
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(f->file_size(), 32u);  // 24-byte header padded to 32
  // A tensor-less file may end right after its header (llama.cpp accepts that too).
  auto bytes = w.to_bytes();
  bytes.resize(24);
  EXPECT_NO_THROW(GgufFile::from_bytes("mem", bytes));
}

TEST(GgufWriter, RejectsBadArguments) {
  expect_error([] { GgufWriter w(1); }, {"version 1"});
  expect_error([] { GgufWriter w(4); }, {"version 4"});
  GgufWriter w;
  std::vector<uint8_t> d(64);
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {3}, d.data(), 8); }, {"'x'", "8 bytes", "expected 12"});
  expect_error([&] { w.add_tensor("x", GgmlType::Q4_0, {16}, d.data(), 9); }, {"'x'", "block size 32"});
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {}, d.data(), 0); }, {"'x'", "0 dimensions"});
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {1, 1, 1, 1, 1}, d.data(), 4); }, {"5 dimensions"});
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {0}, d.data(), 0); }, {"invalid dimension 0"});
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {-1}, d.data(), 0); }, {"invalid dimension -1"});
  expect_error([&] { w.add_tensor(std::string(64, 'n'), GgmlType::F32, {1}, d.data(), 4); }, {"longer than 63"});
  expect_error([&] { w.add_tensor("x", GgmlType(99), {1}, d.data(), 4); }, {"unknown type id 99"});
  w.add_tensor("x", GgmlType::F32, {2}, d.data(), 8);
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {2}, d.data(), 8); }, {"duplicate tensor name"});
  expect_error([&] { w.set_alignment(24); }, {"24", "power of two"});
  expect_error([&] { w.set_alignment(0); }, {"power of two"});
  expect_error([] { GgufValue::make_uint(T::UINT8, 256); }, {"256", "u8"});
  expect_error([] { GgufValue::make_int(T::INT16, 40000); }, {"40000", "i16"});
  expect_error([] { GgufValue::make_uint(T::INT32, 1); }, {"not an unsigned"});
  expect_error([] { GgufValue::make_array(T::INT32, {GgufValue::make_string("s")}); }, {"item 0", "string", "i32"});
  // A hand-made value whose stored alternative contradicts its type.
  GgufValue bad;
  bad.type = T::STRING;
  bad.v = uint64_t(1);
  w.set("bad", bad);
  expect_error([&] { w.to_bytes(); }, {"'bad'", "string"});
  testing::TempDir dir;
  GgufWriter ok;
  expect_error([&] { ok.write(dir.file("no/such/dir/x.gguf")); }, {"no/such/dir/x.gguf", "cannot create"});
}

TEST(GgufValue, DisplayAndEquality) {
  EXPECT_EQ(GgufValue::make_string("a\nb\"c").to_display(), "\"a\\nb\\\"c\"");
  EXPECT_EQ(GgufValue::make_uint(T::UINT64, ~uint64_t(0)).to_display(), "18446744073709551615");
  EXPECT_EQ(GgufValue::make_int(T::INT8, -5).to_display(), "-5");
  EXPECT_EQ(GgufValue::make_float(T::FLOAT32, 0.1).to_display(), "0.1");  // shortest that round-trips
  EXPECT_EQ(GgufValue::make_float(T::FLOAT32, 1e-5).to_display(), "1e-05");
  EXPECT_EQ(GgufValue::make_float(T::FLOAT32, 1.0 / 3).to_display(), "0.33333334");
  EXPECT_EQ(GgufValue::make_float(T::FLOAT64, 0.1).to_display(), "0.1");
  EXPECT_EQ(GgufValue::make_float(T::FLOAT64, 1.0 / 3).to_display(), "0.3333333333333333");
  EXPECT_EQ(GgufValue::make_float(T::FLOAT32, 100000).to_display(), "100000");
  EXPECT_EQ(GgufValue::make_bool(true).to_display(), "true");
  // 83 bytes: byte 80 is in the middle of a 2-byte character, so the cut backs up to byte 79.
  std::string long_utf8 = "x", want = "\"x";
  for (int i = 0; i < 41; ++i) long_utf8 += "\xc3\xa9";
  for (int i = 0; i < 39; ++i) want += "\xc3\xa9";
  EXPECT_EQ(GgufValue::make_string(long_utf8).to_display(), want + "\"...");
  auto a = arr(T::INT32, {GgufValue::make_int(T::INT32, 1), GgufValue::make_int(T::INT32, 2), GgufValue::make_int(T::INT32, 3)});
  EXPECT_EQ(a.to_display(2), "[i32 x 3] 1, 2, ...");
  EXPECT_EQ(a.to_display(0), "[i32 x 3]");
  auto b = arr(T::INT32, {GgufValue::make_int(T::INT32, 1), GgufValue::make_int(T::INT32, 2), GgufValue::make_int(T::INT32, 3)});
  EXPECT_TRUE(a == b);
  auto c = arr(T::INT32, {GgufValue::make_int(T::INT32, 1)});
  EXPECT_FALSE(a == c);
  EXPECT_FALSE(GgufValue::make_uint(T::UINT8, 1) == GgufValue::make_uint(T::UINT16, 1));
  EXPECT_TRUE(GgufValue::make_float(T::FLOAT64, NAN) == GgufValue::make_float(T::FLOAT64, NAN));
  EXPECT_FALSE(GgufValue::make_float(T::FLOAT64, 0.0) == GgufValue::make_float(T::FLOAT64, -0.0));
}

}  // namespace
}  // namespace nagare
