// The Hub as a source: parsing the tree listing, and which GGUF file a pull with or without a
// :QUANT means (or the error listing the candidates).
#include <gtest/gtest.h>

#include "store/hugging_face.h"
#include "util/error.h"

namespace nagare {
namespace {

const std::string kSha(64, 'c');

// The listing as documented for GET /api/models/{repo}/tree/main: LFS files carry lfs.oid.
const char* kTree = R"([
  {"type": "file", "oid": "1111111111111111111111111111111111111111", "size": 1519, "path": ".gitattributes"},
  {"type": "directory", "oid": "2222222222222222222222222222222222222222", "size": 0, "path": "extra"},
  {"type": "file", "oid": "3333333333333333333333333333333333333333", "size": 98362432,
   "path": "SmolLM2-135M-Instruct.Q4_1.gguf",
   "lfs": {"oid": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "size": 98362432, "pointerSize": 134}},
  {"type": "file", "oid": "4444444444444444444444444444444444444444", "size": 135, "path": "extra/model-Q4_K_M.gguf",
   "lfs": {"oid": "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD", "size": 105000000}}
])";

TEST(HuggingFace, ParseTree) {
  auto files = parse_hub_tree(kTree, "hf.co/o/r");
  ASSERT_EQ(files.size(), 3u);  // the directory is not a file
  EXPECT_EQ(files[0].path, ".gitattributes");
  EXPECT_EQ(files[0].sha256, "");
  EXPECT_EQ(files[1].size, 98362432u);
  EXPECT_EQ(files[1].sha256, kSha);
  EXPECT_EQ(files[2].size, 105000000u);  // the LFS size, not the pointer's
  EXPECT_EQ(files[2].sha256, std::string(64, 'd'));

  EXPECT_THROW(parse_hub_tree("<html>", "x"), Error);
  EXPECT_THROW(parse_hub_tree("{\"error\": \"nope\"}", "x"), Error);
  EXPECT_THROW(parse_hub_tree("[{\"type\": \"file\"}]", "x"), Error);
  EXPECT_THROW(parse_hub_tree(R"([{"path": "a.gguf", "lfs": {"oid": "../../x"}}])", "x"), Error);
}

std::vector<HubFile> files(std::initializer_list<const char*> names) {
  std::vector<HubFile> out;
  for (const char* n : names) out.push_back({n, 1, ""});
  return out;
}

std::string pick(const std::vector<HubFile>& f, const char* quant) { return pick_gguf(f, quant, "hf.co/o/r").path; }

std::string pick_error(const std::vector<HubFile>& f, const char* quant) {
  try {
    pick_gguf(f, quant, "hf.co/o/r");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HuggingFace, PickGguf) {
  auto repo = files({"README.md", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m-Q4_0.gguf", "m-IQ4_XS.gguf", "m.Q8_0.gguf",
                     "mmproj-m-f16.gguf"});
  EXPECT_EQ(pick(repo, ""), "m-Q4_K_M.gguf");  // the default
  EXPECT_EQ(pick(repo, "q4_k_s"), "m-Q4_K_S.gguf");  // case-insensitive
  EXPECT_EQ(pick(repo, "Q8_0"), "m.Q8_0.gguf");
  EXPECT_EQ(pick(repo, "IQ4_XS"), "m-IQ4_XS.gguf");
  // Q4_K is not Q4_K_M or Q4_K_S.
  std::string e = pick_error(repo, "Q4_K");
  EXPECT_NE(e.find("no GGUF file carries 'Q4_K'"), std::string::npos) << e;
  EXPECT_NE(e.find("m-Q4_K_M.gguf"), std::string::npos) << e;  // lists the candidates
  EXPECT_EQ(e.find("mmproj"), std::string::npos) << e;          // projectors are not models

  EXPECT_EQ(pick(files({"only.Q5_K_M.gguf", "mmproj.gguf", "x.txt"}), ""), "only.Q5_K_M.gguf");
  e = pick_error(files({"a.Q5_K_M.gguf", "b.Q8_0.gguf"}), "");
  EXPECT_NE(e.find("several GGUF files and none is Q4_K_M"), std::string::npos) << e;
  EXPECT_NE(e.find("a.Q5_K_M.gguf, b.Q8_0.gguf"), std::string::npos) << e;
  e = pick_error(files({"a/x-Q4_K_M.gguf", "b/x-Q4_K_M.gguf"}), "Q4_K_M");
  EXPECT_NE(e.find("several GGUF files carry 'Q4_K_M'"), std::string::npos) << e;
  e = pick_error(files({"README.md"}), "");
  EXPECT_NE(e.find("has no .gguf file"), std::string::npos) << e;
  e = pick_error(files({"m-Q4_K_M-00001-of-00002.gguf", "m-Q4_K_M-00002-of-00002.gguf"}), "");
  EXPECT_NE(e.find("split into parts"), std::string::npos) << e;
}

TEST(HuggingFace, QuantWords) {
  EXPECT_TRUE(file_name_has_quant("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"));
  EXPECT_TRUE(file_name_has_quant("gemma-3-270m-q4_k_m.gguf", "Q4_K_M"));
  EXPECT_TRUE(file_name_has_quant("model_q8_0.gguf", "Q8_0"));
  EXPECT_TRUE(file_name_has_quant("Q6_K.gguf", "q6_k"));
  EXPECT_FALSE(file_name_has_quant("model-Q4_K_M.gguf", "Q4_K"));
  EXPECT_FALSE(file_name_has_quant("model-IQ4_XS.gguf", "Q4_XS"));
  EXPECT_FALSE(file_name_has_quant("model-Q4_0_4_4.gguf", "Q4_0"));
  EXPECT_FALSE(file_name_has_quant("model.gguf", ""));
}

TEST(HuggingFace, EndpointAndUrls) {
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/mirror//", 1);
  EXPECT_EQ(hf_endpoint(), "http://127.0.0.1:9/mirror");
  ::unsetenv("HF_ENDPOINT");
  EXPECT_EQ(hf_endpoint(), "https://huggingface.co");
  ::setenv("HF_TOKEN", "tok", 1);
  EXPECT_EQ(hf_auth_headers(), std::vector<std::string>{"Authorization: Bearer tok"});
  ::unsetenv("HF_TOKEN");
  EXPECT_TRUE(hf_auth_headers().empty());
  EXPECT_EQ(hub_file_url("https://h", "o", "r", "dir/a b+c.gguf"), "https://h/o/r/resolve/main/dir/a%20b%2Bc.gguf");
}

}  // namespace
}  // namespace nagare
