// KeyTable: keys from the command line and from TOML / JSON-lines files, found by their digest
// (never by the stored text), model lists compared in any spelling, and file errors naming the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "ops/api_keys.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

std::string write(const std::string& name, const std::string& text) {
  const std::string p = (std::filesystem::temp_directory_path() / ("nagare-keys-" + std::to_string(::getpid()) + name)).string();
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::vector<std::string>& keys, const std::string& file) {
  try {
    KeyTable::load(keys, file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(KeyTable, FindsEachKeyAndNothingElse) {
  const std::string f = write("a.toml", "[[keys]]\nsha256 = \"" + sha256_hex("sk-b") +
                                            "\"\nuser = \"bob\"\nrequests_per_minute = 5\nmodels = [\"library/smol\"]\n");
  const KeyTable t = KeyTable::load({"sk-a"}, f);
  ASSERT_EQ(t.size(), 2u);
  const ApiKey* a = t.find("sk-a");
  const ApiKey* b = t.find("sk-b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->user, "default");
  EXPECT_EQ(b->user, "bob");
  EXPECT_EQ(b->requests_per_minute, 5);
  EXPECT_EQ(b->id, "key-" + sha256_hex("sk-b").substr(0, 12));
  EXPECT_EQ(t.find("sk-c"), nullptr);
  EXPECT_EQ(t.find(sha256_hex("sk-b")), nullptr);  // the digest is not a key
  EXPECT_EQ(t.find(""), nullptr);
  EXPECT_TRUE(KeyTable::allows(*b, "smol"));
  EXPECT_TRUE(KeyTable::allows(*b, "smol:latest"));
  EXPECT_FALSE(KeyTable::allows(*b, "gemma"));
  EXPECT_TRUE(KeyTable::allows(*a, "anything"));
  std::filesystem::remove(f);
}

TEST(KeyTable, JsonLinesSkipCommentsAndBlankLines) {
  const std::string f = write("b.jsonl", "# keys\n\n{\"key\": \"k1\", \"user\": \"u1\", \"tokens_per_minute\": 9}\n");
  const KeyTable t = KeyTable::load({}, f);
  ASSERT_NE(t.find("k1"), nullptr);
  EXPECT_EQ(t.find("k1")->tokens_per_minute, 9);
  std::filesystem::remove(f);
}

TEST(KeyTable, ErrorsNameTheLine) {
  struct Case {
    const char* name;
    const char* text;
    const char* expect;
  } cases[] = {
      {"c.jsonl", "{\"key\": \"k\", \"user\": \"u\"}\n{\"key\": \"k2\"}\n", ":2: 'user' is required"},
      {"d.jsonl", "{\"key\": \"k\", \"sha256\": \"" "00" "\", \"user\": \"u\"}\n", ":1: give either 'key' or 'sha256'"},
      {"e.jsonl", "{\"key\": \"k\", \"user\": \"u\", \"requests_per_minute\": -1}\n", ":1: 'requests_per_minute' must not be negative"},
      {"f.jsonl", "[1]\n", ":1: each line must be a JSON object"},
      {"g.toml", "[[keys]]\nkey = \"k\"\nuser = \"u\"\nextra = 1\n", ":1: unknown field 'extra'"},
      {"h.toml", "[other]\nx = 1\n", ":1: unknown table 'other'"},
      {"i.toml", "[[keys]]\nkey = \"k\"\nuser = \"u\"\n[[keys]]\nkey = \"k\"\nuser = \"v\"\n", "given twice"},
  };
  for (const Case& c : cases) {
    const std::string f = write(c.name, c.text);
    const std::string err = error_of({}, f);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.name << ": " << err;
    std::filesystem::remove(f);
  }
  EXPECT_NE(error_of({""}, "").find("empty"), std::string::npos);
  EXPECT_NE(error_of({}, "/nonexistent/keys.toml").find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace nagare
