// The reader's index of both test models equals gguf-py's (tests/golden/gguf/*.json from
// scripts/golden/gguf_index.py): every key, type and value, array hashes, tensor types, shapes,
// offsets and data hashes. Also: our type tables match gguf-py's, and GgufWriter reproduces files
// written by gguf-py's GGUFWriter byte for byte.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/file_type.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf_test_util.h"
#include "util/sha256.h"

namespace nagare {
namespace {

using json = nlohmann::json;
using testing::source_path;
using T = GgufValueType;

json load_json(const std::string& rel) {
  std::ifstream in(source_path(rel));
  EXPECT_TRUE(in.good()) << rel;
  return json::parse(in);
}

std::vector<uint8_t> load_bytes(const std::string& rel) {
  std::ifstream in(source_path(rel), std::ios::binary);
  EXPECT_TRUE(in.good()) << rel;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

template <typename X>
void put(std::string& out, X x) {
  char b[sizeof(X)];
  std::memcpy(b, &x, sizeof(X));
  out.append(b, sizeof(X));
}

// Re-encodes decoded items in their GGUF form; equal hashes mean every item decoded exactly.
void encode_items(std::string& out, const GgufArray& a) {
  for (size_t i = 0; i < a.size(); ++i) {
    const GgufValue v = a[i];
    switch (v.type) {
      case T::UINT8: put<uint8_t>(out, uint8_t(v.as_int())); break;
      case T::INT8: put<int8_t>(out, int8_t(v.as_int())); break;
      case T::UINT16: put<uint16_t>(out, uint16_t(v.as_int())); break;
      case T::INT16: put<int16_t>(out, int16_t(v.as_int())); break;
      case T::UINT32: put<uint32_t>(out, uint32_t(v.as_int())); break;
      case T::INT32: put<int32_t>(out, int32_t(v.as_int())); break;
      case T::UINT64: put<uint64_t>(out, uint64_t(v.as_int())); break;
      case T::INT64: put<int64_t>(out, v.as_int()); break;
      case T::FLOAT32: put<float>(out, float(v.as_float())); break;
      case T::FLOAT64: put<double>(out, v.as_float()); break;
      case T::BOOL: put<uint8_t>(out, v.as_bool()); break;
      case T::STRING:
        put<uint64_t>(out, v.as_string().size());
        out += v.as_string();
        break;
      case T::ARRAY:
        put<uint32_t>(out, uint32_t(v.as_array().elem_type()));
        put<uint64_t>(out, v.as_array().size());
        encode_items(out, v.as_array());
        break;
    }
  }
}

// A golden scalar (string, {"hex": ...}, number or bool) against one decoded value.
void expect_value(const json& want, const GgufValue& got, const std::string& where) {
  switch (got.type) {
    case T::STRING:
      if (want.is_object()) {
        std::string hex;
        for (unsigned char ch : got.as_string()) {
          static const char* d = "0123456789abcdef";
          hex += d[ch >> 4];
          hex += d[ch & 15];
        }
        EXPECT_EQ(want.at("hex").get<std::string>(), hex) << where;
      } else {
        EXPECT_EQ(want.get<std::string>(), got.as_string()) << where;
      }
      break;
    case T::BOOL: EXPECT_EQ(want.get<bool>(), got.as_bool()) << where; break;
    case T::FLOAT32:
    case T::FLOAT64: EXPECT_EQ(want.get<double>(), got.as_float()) << where; break;
    case T::UINT8: case T::UINT16: case T::UINT32: case T::UINT64:
      EXPECT_EQ(want.get<uint64_t>(), std::get<uint64_t>(got.v)) << where;
      break;
    case T::INT8: case T::INT16: case T::INT32: case T::INT64:
      EXPECT_EQ(want.get<int64_t>(), std::get<int64_t>(got.v)) << where;
      break;
    default: ADD_FAILURE() << where << ": unexpected type";
  }
}

void check_model(const std::string& model, const std::string& golden) {
  const std::string path = source_path("models/" + model);
  if (!std::ifstream(path).good()) GTEST_SKIP() << path << " missing (scripts/fetch-models)";
  json g = load_json("tests/golden/gguf/" + golden);
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->file_size(), g["file_size"].get<size_t>());
  EXPECT_EQ(f->version(), g["version"].get<uint32_t>());
  EXPECT_EQ(f->alignment(), g["alignment"].get<uint64_t>());
  EXPECT_EQ(f->data_offset(), g["data_offset"].get<uint64_t>());

  const json& md = g["metadata"];
  ASSERT_EQ(f->metadata_order().size(), md.size());
  ASSERT_EQ(f->metadata().size(), md.size());
  for (size_t i = 0; i < md.size(); ++i) {
    const json& e = md[i];
    const std::string key = e["key"];
    EXPECT_EQ(f->metadata_order()[i], key);
    const GgufValue* v = f->find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(std::string(gguf_value_type_name(v->type)), e["type"].get<std::string>()) << key;
    if (v->type == T::ARRAY) {
      const GgufArray& a = v->as_array();
      EXPECT_EQ(std::string(gguf_value_type_name(a.elem_type())), e["elem_type"].get<std::string>()) << key;
      ASSERT_EQ(a.size(), e["length"].get<size_t>()) << key;
      std::string enc;
      encode_items(enc, a);
      EXPECT_EQ(sha256_hex(enc), e["sha256"].get<std::string>()) << key;
      if (e.contains("head")) {
        const json& head = e["head"];
        ASSERT_EQ(head.size(), std::min<size_t>(16, a.size())) << key;
        for (size_t j = 0; j < head.size(); ++j) expect_value(head[j], a[j], key + "[" + std::to_string(j) + "]");
      }
    } else if (e.contains("sha256")) {  // a long string stored as its hash
      EXPECT_EQ(v->as_string().size(), e["length"].get<size_t>()) << key;
      EXPECT_EQ(sha256_hex(v->as_string()), e["sha256"].get<std::string>()) << key;
    } else {
      expect_value(e["value"], *v, key);
    }
  }

  const json& ts = g["tensors"];
  ASSERT_EQ(f->tensors().size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const json& e = ts[i];
    const GgufTensor& t = f->tensors()[i];
    const std::string name = e["name"];
    EXPECT_EQ(t.name, name);
    EXPECT_EQ(&f->tensor(name), &t);
    EXPECT_EQ(uint32_t(t.type), e["type_id"].get<uint32_t>()) << name;
    EXPECT_EQ(std::string(ggml_type_name(t.type)), e["type"].get<std::string>()) << name;
    EXPECT_EQ(t.dims, e["shape"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(t.n_elements(), e["n_elements"].get<int64_t>()) << name;
    EXPECT_EQ(t.offset, e["offset"].get<uint64_t>()) << name;
    EXPECT_EQ(f->data_offset() + t.offset, e["data_offset"].get<uint64_t>()) << name;
    EXPECT_EQ(t.nbytes, e["n_bytes"].get<size_t>()) << name;
    EXPECT_EQ(sha256_hex(t.data, t.nbytes), e["sha256"].get<std::string>()) << name;
  }
}

TEST(GgufGolden, SmolLM2Index) { check_model("SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.json"); }
TEST(GgufGolden, Gemma3Index) { check_model("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m.json"); }

TEST(GgufGolden, TypeTablesMatchGgufPy) {
  json g = load_json("tests/golden/gguf/gguf_py_constants.json");
  size_t known = 0;
  for (const json& t : g["ggml_types"]) {
    auto info = ggml_type_info(t["id"].get<uint32_t>());
    ASSERT_TRUE(info.has_value()) << t["name"];
    EXPECT_EQ(std::string(info->name), t["name"].get<std::string>());
    EXPECT_EQ(info->block_elements, t["block_elements"].get<uint32_t>()) << t["name"];
    // gguf-py still lists Q8_1 with its old float scales (4 + 4 + 32 bytes); ggml-common.h's
    // block_q8_1 has two halves (2 + 2 + 32), and Q8_1 only ever holds activations, not weights.
    uint32_t want_bytes = t["name"] == "Q8_1" ? 36 : t["block_bytes"].get<uint32_t>();
    if (t["name"] == "Q8_1") {
      EXPECT_EQ(t["block_bytes"].get<uint32_t>(), 40u) << "gguf-py fixed Q8_1; drop this exception";
    }
    EXPECT_EQ(info->block_bytes, want_bytes) << t["name"];
    ++known;
  }
  size_t ours = 0;  // and no id we know that gguf-py does not
  for (uint32_t id = 0; id < 256; ++id) ours += ggml_type_info(id).has_value();
  EXPECT_EQ(ours, known);

  known = 0;
  for (const json& t : g["file_types"]) {
    auto name = llama_file_type_name(t["id"].get<int64_t>());
    ASSERT_TRUE(name.has_value()) << t["name"];
    EXPECT_EQ(std::string(*name), t["name"].get<std::string>());
    ++known;
  }
  ours = 0;
  for (int64_t id = -1; id < 2048; ++id) ours += llama_file_type_name(id).has_value();
  EXPECT_EQ(ours, known);
}

// The content scripts/golden/gguf_index.py writes with gguf-py's GGUFWriter.
GgufWriter reference_content(std::optional<uint32_t> alignment) {
  GgufWriter w(3);
  w.set_string("general.architecture", "testarch");
  if (alignment) w.set_alignment(*alignment);
  w.set_u8("t.u8", 200);
  w.set_i8("t.i8", -100);
  w.set_u16("t.u16", 60000);
  w.set_i16("t.i16", -30000);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_u64("t.u64", ~uint64_t(0));
  w.set_i64("t.i64", INT64_MIN);
  w.set_f32("t.f32", 0.1f);
  w.set_f64("t.f64", 0.1);
  w.set_bool("t.bool", true);
  w.set_string("t.string", "h\xc3\xa9llo \xe2\x96\x81world\n");
  w.set_i32_array("t.arr.i32", {1, -2, 3});
  w.set_f32_array("t.arr.f32", {0.5f, -1.25f});
  w.set_string_array("t.arr.string", {"<s>", "", "\xe2\x96\x81" "a"});
  w.set("t.arr.bool", GgufValue::make_array(T::BOOL, {GgufValue::make_bool(true), GgufValue::make_bool(false),
                                                      GgufValue::make_bool(true)}));
  auto i32 = [](int32_t x) { return GgufValue::make_int(T::INT32, x); };
  w.set("t.arr.nested", GgufValue::make_array(T::ARRAY, {GgufValue::make_array(T::INT32, {i32(1), i32(2)}),
                                                         GgufValue::make_array(T::INT32, {i32(3)})}));
  std::vector<float> a;
  for (int i = 0; i < 6; ++i) a.push_back(float(i) / 4);
  w.add_tensor_f32("a.f32", {3, 2}, a);
  const uint16_t f16[5] = {0x0000, 0x3c00, 0x4000, 0x4200, 0x4400};  // 0..4 in IEEE half
  w.add_tensor("b.f16", GgmlType::F16, {5}, f16, sizeof f16);
  std::vector<uint8_t> q(68);
  for (size_t i = 0; i < q.size(); ++i) q[i] = uint8_t(i % 251);
  w.add_tensor("c.q8_0", GgmlType::Q8_0, {32, 2}, q.data(), q.size());
  const int32_t d[3] = {7, -7, 70};
  w.add_tensor("d.i32", GgmlType::I32, {3}, d, sizeof d);
  return w;
}

TEST(GgufGolden, WriterMatchesGgufPyByteForByte) {
  for (auto [file, alignment] : {std::pair<const char*, std::optional<uint32_t>>{"gguf_py_writer.gguf", std::nullopt},
                                 {"gguf_py_writer_align64.gguf", 64u}}) {
    SCOPED_TRACE(file);
    auto want = load_bytes(std::string("tests/golden/gguf/") + file);
    auto got = reference_content(alignment).to_bytes();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "first difference at byte " << i;

    auto f = GgufFile::open(source_path(std::string("tests/golden/gguf/") + file));
    EXPECT_EQ(f->alignment(), alignment.value_or(32));
    EXPECT_EQ(f->get_string("general.architecture"), "testarch");
    EXPECT_EQ(f->get_int("t.i64"), INT64_MIN);
    EXPECT_EQ(std::get<uint64_t>(f->find("t.u64")->v), ~uint64_t(0));
    EXPECT_EQ(f->get_float("t.f32"), double(0.1f));
    EXPECT_EQ(f->find("t.arr.nested")->as_array()[1].as_array().int_at(0), 3);
    const GgufTensor& t = f->tensor("a.f32");
    EXPECT_EQ(t.dims, (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(reinterpret_cast<const float*>(t.data)[5], 1.25f);
    EXPECT_EQ(f->tensor("c.q8_0").dims, (std::vector<int64_t>{32, 2}));
    EXPECT_EQ(f->tensor("d.i32").offset % f->alignment(), 0u);
  }
}

}  // namespace
}  // namespace nagare
