// Manifests: every field survives a round trip through JSON, and a manifest that is damaged or
// hostile (a digest that would be a path, wrong types, unknown parameters) is refused with the
// file named, never half-read.
#include <gtest/gtest.h>

#include "store/manifest.h"
#include "util/error.h"

namespace nagare {
namespace {

using json = nlohmann::json;
const std::string kDigest = "sha256:" + std::string(64, 'a');

Manifest full_manifest() {
  Manifest m;
  m.weights_digest = kDigest;
  m.weights_size = 123456789012ull;
  m.template_text = "{{ messages }}\n\"quoted\"";
  m.system = "You are terse.";
  m.license = "MIT\nsecond line";
  m.parameters = {{"temperature", 0.25}, {"num_ctx", 4096}, {"stop", {"<|im_end|>", "END"}}, {"use_mmap", false}};
  m.messages = {{"user", "hi"}, {"assistant", "hello"}};
  m.source = "hf.co/owner/repo/file.gguf";
  m.created = "2026-12-06T10:00:00Z";
  return m;
}

TEST(Manifest, RoundTrip) {
  const Manifest m = full_manifest();
  const Manifest back = Manifest::from_json(m.to_json(), "test");
  EXPECT_EQ(back.weights_digest, m.weights_digest);
  EXPECT_EQ(back.weights_size, m.weights_size);
  EXPECT_EQ(back.template_text, m.template_text);
  EXPECT_EQ(back.system, m.system);
  EXPECT_EQ(back.license, m.license);
  EXPECT_EQ(back.parameters, m.parameters);
  EXPECT_EQ(back.messages, m.messages);
  EXPECT_EQ(back.source, m.source);
  EXPECT_EQ(back.created, m.created);
  EXPECT_EQ(back.digest_hex(), std::string(64, 'a'));

  Manifest bare;
  bare.weights_digest = kDigest;
  const Manifest b = Manifest::from_json(bare.to_json(), "test");
  EXPECT_FALSE(b.template_text || b.system || b.license);
  EXPECT_TRUE(b.parameters.empty() && b.messages.empty());
}

void expect_invalid(const json& j, const std::string& reason) {
  try {
    Manifest::from_json(j.dump(), "/store/manifests/x");
    ADD_FAILURE() << "accepted " << j.dump();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("/store/manifests/x: invalid manifest: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(reason), std::string::npos) << msg;
  }
}

TEST(Manifest, DamagedOrHostileManifestsAreRefused) {
  const json good = json::parse(full_manifest().to_json());
  auto with = [&](const std::string& key, const json& v) {
    json j = good;
    j[key] = v;
    return j;
  };
  try {
    Manifest::from_json("{\"schemaVersion\": 1, \"weights\": {", "m");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
  expect_invalid(json::array(), "not a JSON object");
  expect_invalid(with("schemaVersion", 2), "schema version 2");
  expect_invalid(with("weights", "x"), "no \"weights\" object");
  for (const char* digest : {"sha256:../../../../etc/passwd", "sha256:ABCDEF", "md5:0000",
                             "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA"}) {
    json j = good;
    j["weights"]["digest"] = digest;
    expect_invalid(j, "weights.digest");
  }
  json neg = good;
  neg["weights"]["size"] = -1;
  expect_invalid(neg, "weights.size");
  expect_invalid(with("system", 3), "\"system\" is not a string");
  expect_invalid(with("parameters", json{{"bogus", 1}}), "unknown parameter 'bogus'");
  expect_invalid(with("parameters", json{{"num_ctx", 1.5}}), "'num_ctx' is not an integer");
  expect_invalid(with("parameters", json{{"stop", "x"}}), "'stop' is not a list of strings");
  expect_invalid(with("messages", json::array({json{{"role", "user"}}})), "a message is not");
}

TEST(Manifest, ParameterValues) {
  const auto& spec = [](const char* n) { return *find_parameter_spec(n); };
  EXPECT_EQ(parse_parameter_value(spec("num_ctx"), "4096"), json(4096));
  EXPECT_EQ(parse_parameter_value(spec("temperature"), "0.7"), json(0.7));
  EXPECT_EQ(parse_parameter_value(spec("use_mmap"), "TRUE"), json(true));
  EXPECT_EQ(parse_parameter_value(spec("stop"), "<|im_end|>"), json("<|im_end|>"));
  for (auto [name, bad] : std::vector<std::pair<const char*, const char*>>{
           {"num_ctx", "1.5"}, {"num_ctx", "12x"}, {"num_ctx", ""}, {"temperature", "warm"},
           {"temperature", "nan"}, {"temperature", "1e999"}, {"use_mmap", "maybe"}}) {
    EXPECT_THROW(parse_parameter_value(spec(name), bad), Error) << name << " " << bad;
  }
  EXPECT_EQ(find_parameter_spec("nope"), nullptr);
}

TEST(Manifest, DigestFormat) {
  EXPECT_TRUE(is_valid_digest(kDigest));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'g')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(62, 'a') + "/."));
}

}  // namespace
}  // namespace nagare
