// GgufArray's compact storage: every element type reads back as the value that went in (signed
// values keep their sign, f32 stays rounded to float, strings keep embedded NULs and empties),
// typed reads refuse the wrong kind, and equality is by type and content.
#include <gtest/gtest.h>

#include <string>

#include "gguf/gguf_file.h"
#include "util/error.h"

namespace nagare {
namespace {

using T = GgufValueType;

TEST(GgufArray, EveryTypeReadsBackAsWritten) {
  GgufArray i8(T::INT8);
  i8.push_back(GgufValue::make_int(T::INT8, -128));
  i8.push_back(GgufValue::make_int(T::INT8, 127));
  EXPECT_EQ(i8.int_at(0), -128);
  EXPECT_EQ(i8.float_at(0), -128.0);
  EXPECT_EQ(i8[1], GgufValue::make_int(T::INT8, 127));

  GgufArray u64(T::UINT64);
  u64.push_back(GgufValue::make_uint(T::UINT64, ~uint64_t(0)));
  EXPECT_EQ(u64[0].type, T::UINT64);
  EXPECT_EQ(std::get<uint64_t>(u64[0].v), ~uint64_t(0));
  EXPECT_EQ(u64.float_at(0), 18446744073709551615.0);

  GgufArray f32(T::FLOAT32);
  f32.push_back(GgufValue::make_float(T::FLOAT32, 0.1));
  EXPECT_EQ(f32.float_at(0), double(0.1f));
  EXPECT_EQ(f32[0], GgufValue::make_float(T::FLOAT32, 0.1));

  GgufArray b(T::BOOL);
  b.push_back(GgufValue::make_bool(true));
  EXPECT_TRUE(b[0].as_bool());
  EXPECT_EQ(b.int_at(0), 1);
  EXPECT_THROW(b.float_at(0), Error);  // as GgufValue::as_float

  GgufArray s(T::STRING);
  for (std::string x : {std::string("▁the"), std::string(), std::string("a\0b", 3)}) s.push_back(GgufValue::make_string(x));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.string_at(0), "▁the");
  EXPECT_EQ(s.string_at(1), "");
  EXPECT_EQ(s.string_at(2), std::string_view("a\0b", 3));
  EXPECT_EQ(s[2].as_string(), std::string("a\0b", 3));
  EXPECT_THROW(s.int_at(0), Error);
  EXPECT_THROW(s.string_at(3), Error);
  EXPECT_THROW(i8.string_at(0), Error);
}

TEST(GgufArray, RefusesItemsOfAnotherTypeAndComparesByContent) {
  GgufArray a(T::INT32);
  EXPECT_THROW(a.push_back(GgufValue::make_int(T::INT16, 1)), Error);
  EXPECT_THROW(a.push_back(GgufValue::make_string("1")), Error);
  a.push_back(GgufValue::make_int(T::INT32, 7));
  GgufArray b(T::INT32), c(T::UINT32);
  b.push_back(GgufValue::make_int(T::INT32, 7));
  c.push_back(GgufValue::make_uint(T::UINT32, 7));
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);  // same number, another type
  GgufArray x(T::STRING), y(T::STRING);  // "ab","c" is not "a","bc"
  x.push_back(GgufValue::make_string("ab"));
  x.push_back(GgufValue::make_string("c"));
  y.push_back(GgufValue::make_string("a"));
  y.push_back(GgufValue::make_string("bc"));
  EXPECT_FALSE(x == y);
}

}  // namespace
}  // namespace nagare
