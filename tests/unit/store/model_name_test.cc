// Model names: the accepted forms and their normal form, and hostile names (paths, NUL,
// control characters, empty parts, overlong) refused with a reason, so no name can reach a file
// outside manifests/.
#include <gtest/gtest.h>

#include <random>

#include "store/model_name.h"
#include "util/error.h"

namespace nagare {
namespace {

TEST(ModelName, DefaultsAndForms) {
  ModelName a = ModelName::parse("smollm2");
  EXPECT_EQ(a.host, "local");
  EXPECT_EQ(a.ns, "library");
  EXPECT_EQ(a.name, "smollm2");
  EXPECT_EQ(a.tag, "latest");
  EXPECT_EQ(a.display(), "smollm2:latest");
  EXPECT_EQ(a.manifest_relpath(), "local/library/smollm2/latest");

  ModelName b = ModelName::parse("smollm2:135m");
  EXPECT_EQ(b.tag, "135m");
  EXPECT_EQ(b.display(), "smollm2:135m");

  ModelName c = ModelName::parse("me/smollm2");
  EXPECT_EQ(c.ns, "me");
  EXPECT_EQ(c.display(), "me/smollm2:latest");

  ModelName d = ModelName::parse("hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M");
  EXPECT_EQ(d.host, "hf.co");
  EXPECT_EQ(d.ns, "bartowski");
  EXPECT_EQ(d.name, "SmolLM2-135M-Instruct-GGUF");
  EXPECT_EQ(d.tag, "Q4_K_M");
  EXPECT_TRUE(d.is_hugging_face());
  EXPECT_EQ(d.display(), "hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M");
  EXPECT_EQ(d.manifest_relpath(), "hf.co/bartowski/SmolLM2-135M-Instruct-GGUF/Q4_K_M");

  // The host is case-insensitive and huggingface.co is hf.co; a port is not a tag.
  EXPECT_EQ(ModelName::parse("HuggingFace.CO/o/r").display(), "hf.co/o/r:latest");
  ModelName e = ModelName::parse("localhost:5000/ns/name");
  EXPECT_EQ(e.host, "localhost:5000");
  EXPECT_EQ(e.tag, "latest");
  // Parsing the display form gives the same name.
  for (const auto& n : {a, b, c, d, e}) EXPECT_EQ(ModelName::parse(n.display()), n);
}

void expect_refused(const std::string& text, const std::string& reason) {
  try {
    ModelName n = ModelName::parse(text);
    ADD_FAILURE() << "accepted " << testing::PrintToString(text) << " as " << n.manifest_relpath();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("invalid model name"), std::string::npos) << msg;
    EXPECT_NE(msg.find(reason), std::string::npos) << "for " << testing::PrintToString(text) << ": " << msg;
    for (unsigned char c : msg) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "unescaped control byte in: " << msg;
  }
}

TEST(ModelName, HostileNamesAreRefusedWithAReason) {
  expect_refused("", "empty");
  expect_refused("../etc/passwd", "'..'");
  expect_refused("a/../../b", "'..'");
  expect_refused("x:../../y", "'..'");
  expect_refused("..", "'..'");
  expect_refused("/etc/passwd", "starts with '/'");
  expect_refused("a\\b", "backslash");
  expect_refused(std::string("a\0b", 3), "control character");
  expect_refused("a\nb", "control character");
  expect_refused("a\x7f", "control character");
  expect_refused("a b", "space");
  expect_refused("a//b", "empty part");
  expect_refused("a/", "empty part");
  expect_refused("name:", "tag (after ':') is empty");
  expect_refused(":tag", "name (before ':') is empty");
  expect_refused("a/b/c/d", "more than three");
  expect_refused(".hidden", "must start with");
  expect_refused("-x", "must start with");
  expect_refused("x:.tag", "must start with");
  expect_refused("a*b", "not allowed");
  expect_refused("a/b$c", "not allowed");
  expect_refused("ho_st/ns/name", "not allowed in its host");
  expect_refused(std::string(97, 'a'), "longer than 96");
  expect_refused(std::string(301, 'a'), "longer than 300");
  expect_refused("caf\xc3\xa9", "not allowed");
}

TEST(ModelName, ErrorsEscapeWhatTheyQuote) {
  try {
    ModelName::parse(std::string("x\x1b[31m", 6));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x\\x1b[31m'"), std::string::npos) << e.what();
  }
}

// Whatever the input, a name that parses maps to exactly four plain path components.
TEST(ModelName, RandomInputsNeverEscapeTheManifestsDirectory) {
  std::mt19937 rng(7);
  const std::string alphabet = std::string("abcAB09_.-:/\\ \0\x01\xff", 17);
  int accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s(1 + rng() % 24, 'x');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    try {
      ModelName n = ModelName::parse(s);
      ++accepted;
      std::string rel = n.manifest_relpath();
      int parts = 0;
      size_t start = 0;
      for (;;) {
        size_t end = rel.find('/', start);
        std::string part = rel.substr(start, end == std::string::npos ? std::string::npos : end - start);
        ASSERT_FALSE(part.empty()) << rel;
        ASSERT_NE(part, ".") << rel;
        ASSERT_EQ(part.find(".."), std::string::npos) << rel;
        ASSERT_NE(part[0], '.') << rel;
        for (char c : part) ASSERT_TRUE(is_model_name_char(c) || c == ':') << rel;
        ++parts;
        if (end == std::string::npos) break;
        start = end + 1;
      }
      ASSERT_EQ(parts, 4) << rel;
    } catch (const Error&) {
      ++refused;
    }
  }
  // Both outcomes happen, so the property was tested on accepted names.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace nagare
