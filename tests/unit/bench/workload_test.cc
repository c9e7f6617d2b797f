// Workloads: synthetic prompts are deterministic, distinct and built from one-token words;
// workload files (the shared extraction files as they are, arrays, JSONL) parse or fail clearly.
#include "bench/workload.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "bench/word_list.h"
#include "util/error.h"

namespace nagare::bench {
namespace {

using json = nlohmann::json;

std::string data_path(const std::string& name) { return std::string(NAGARE_SOURCE_DIR) + "/tests/unit/bench/data/" + name; }

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

// A temporary file removed at scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text, const std::string& ext = ".json") {
    // The process id too: ctest runs each test in its own process, several at once.
    path = ::testing::TempDir() + "bench_workload_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ext;
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

TEST(WordList, WordsAreDistinctLowercaseAndPlenty) {
  const auto& w = word_list();
  EXPECT_GE(w.size(), 400u);
  std::set<std::string_view> seen(w.begin(), w.end());
  EXPECT_EQ(seen.size(), w.size()) << "duplicates skew the distribution";
  for (auto x : w) {
    ASSERT_FALSE(x.empty());
    for (char c : x) EXPECT_TRUE(c >= 'a' && c <= 'z') << x;
  }
}

TEST(RandomWords, DeterministicExactLengthFromTheList) {
  std::string a = random_words(42, 300);
  EXPECT_EQ(a, random_words(42, 300));
  EXPECT_NE(a, random_words(43, 300));
  auto words = split_words(a);
  ASSERT_EQ(words.size(), 300u);
  std::set<std::string_view> list(word_list().begin(), word_list().end());
  std::set<std::string> distinct;
  for (const auto& w : words) {
    EXPECT_TRUE(list.count(w)) << w;
    distinct.insert(w);
  }
  EXPECT_GT(distinct.size(), 150u) << "words should be spread over the list";
  EXPECT_EQ(random_words(1, 0), "");
  EXPECT_EQ(split_words(random_words(1, 1)).size(), 1u);
}

TEST(Workload, RandomChatRequestsDifferAndHaveTheAskedLengths) {
  WorkloadOptions o;
  o.input_len = 64;
  o.output_len = 16;
  o.seed = 7;
  Workload w = Workload::create(o);
  json r0 = w.request(0), r1 = w.request(1);
  ASSERT_TRUE(r0.contains("messages"));
  ASSERT_EQ(r0["messages"].size(), 1u);
  EXPECT_EQ(r0["messages"][0]["role"], "user");
  EXPECT_EQ(split_words(r0["messages"][0]["content"].get<std::string>()).size(), 64u);
  EXPECT_EQ(r0["max_tokens"], 16);
  EXPECT_NE(r0["messages"][0]["content"], r1["messages"][0]["content"]);
  EXPECT_EQ(r0, Workload::create(o).request(0)) << "same seed, same prompts";
  EXPECT_FALSE(r0.contains("model"));
  EXPECT_FALSE(r0.contains("stream"));
  EXPECT_TRUE(w.default_concurrency().empty());
}

TEST(Workload, RandomDefaultsAndCompletionsEndpoint) {
  WorkloadOptions o;
  o.endpoint = Endpoint::kCompletions;
  Workload w = Workload::create(o);
  json r = w.request(3);
  ASSERT_TRUE(r.contains("prompt"));
  EXPECT_EQ(split_words(r["prompt"].get<std::string>()).size(), size_t(kDefaultRandomInputLen));
  EXPECT_EQ(r["max_tokens"], kDefaultOutputLen);
  EXPECT_EQ(w.describe()["input_len"], kDefaultRandomInputLen);
}

TEST(Workload, SharedPrefixSharesTheLongPrefixOnly) {
  WorkloadOptions o;
  o.kind = "shared-prefix";
  o.prefix_len = 1500;
  Workload w = Workload::create(o);
  json a = w.request(0), b = w.request(1);
  ASSERT_EQ(a["messages"].size(), 2u);
  EXPECT_EQ(a["messages"][0]["role"], "system");
  EXPECT_EQ(a["messages"][0], b["messages"][0]);
  EXPECT_EQ(split_words(a["messages"][0]["content"].get<std::string>()).size(), 1500u);
  EXPECT_NE(a["messages"][1], b["messages"][1]);
  EXPECT_EQ(split_words(a["messages"][1]["content"].get<std::string>()).size(), size_t(kDefaultSuffixLen));
  o.endpoint = Endpoint::kCompletions;
  o.prefix_len = 100;
  o.input_len = 10;
  Workload c = Workload::create(o);
  auto pa = split_words(c.request(0)["prompt"].get<std::string>());
  auto pb = split_words(c.request(1)["prompt"].get<std::string>());
  ASSERT_EQ(pa.size(), 110u);
  EXPECT_TRUE(std::equal(pa.begin(), pa.begin() + 100, pb.begin()));
  EXPECT_FALSE(std::equal(pa.begin() + 100, pa.end(), pb.begin() + 100));
}

TEST(Workload, SharedExtractionFilesWorkAsTheyAre) {
  for (const char* name : {"extraction_en.json", "extraction_ja.json"}) {
    WorkloadOptions o;
    o.kind = data_path(name);
    Workload w = Workload::create(o);
    EXPECT_EQ(w.default_concurrency(), (std::vector<int>{1, 5, 10, 15, 20})) << name;
    EXPECT_EQ(w.name(), std::string(name).substr(0, std::string(name).size() - 5));
    json r = w.request(0);
    EXPECT_EQ(r["max_tokens"], 1024);
    EXPECT_DOUBLE_EQ(r["temperature"].get<double>(), 0.1);
    ASSERT_EQ(r["messages"].size(), 1u);
    EXPECT_GT(r["messages"][0]["content"].get<std::string>().size(), 1000u);
    EXPECT_FALSE(r.contains("name")) << "run metadata is not sent";
    EXPECT_FALSE(r.contains("concurrency"));
    EXPECT_EQ(w.request(5), r) << "one request, repeated";
    // --output-len overrides the file's max_tokens.
    o.output_len = 32;
    EXPECT_EQ(Workload::create(o).request(0)["max_tokens"], 32);
    o.endpoint = Endpoint::kCompletions;
    EXPECT_THROW(Workload::create(o), Error) << "chat messages need the chat endpoint";
  }
}

TEST(Workload, ArraysRequestListsAndJsonl) {
  TempFile arr(R"([{"messages":[{"role":"user","content":"a"}],"max_tokens":3,"top_p":0.5},
                  {"prompt":"b"}])");
  WorkloadOptions o;
  o.kind = arr.path;
  Workload w = Workload::create(o);
  EXPECT_EQ(w.request(0)["top_p"], 0.5) << "other request fields pass through";
  EXPECT_EQ(w.request(1)["messages"][0]["content"], "b") << "a prompt becomes a user message for chat";
  EXPECT_EQ(w.request(2), w.request(0)) << "requests cycle";

  TempFile obj(R"({"name":"x","concurrency":4,"requests":[{"messages":[{"role":"user","content":"q"}]}]})");
  o.kind = obj.path;
  Workload w2 = Workload::create(o);
  EXPECT_EQ(w2.default_concurrency(), std::vector<int>{4});
  EXPECT_EQ(w2.name(), "x");

  TempFile jsonl("{\"messages\":[{\"role\":\"user\",\"content\":\"1\"}],\"stream\":false,\"model\":\"m\"}\n\n"
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"2\"}]}\r\n",
                 ".jsonl");
  o.kind = jsonl.path;
  Workload w3 = Workload::create(o);
  EXPECT_EQ(w3.request(1)["messages"][0]["content"], "2");
  EXPECT_FALSE(w3.request(0).contains("stream")) << "stream and model come from the command line";
  EXPECT_FALSE(w3.request(0).contains("model"));

  o.endpoint = Endpoint::kCompletions;
  TempFile prompts("{\"prompt\":\"x\"}\n{\"prompt\":\"y\"}\n", ".jsonl");
  o.kind = prompts.path;
  EXPECT_EQ(Workload::create(o).request(1)["prompt"], "y");
}

TEST(Workload, MalformedFilesNameTheProblem) {
  struct Case {
    std::string text, expected;
  };
  std::vector<Case> cases = {
      {"", "holds no requests"},
      {"[]", "holds no requests"},
      {"42", "expected a request object"},
      {R"({"max_tokens":5})", "needs \"messages\""},
      {R"({"messages":[]})", "non-empty array"},
      {R"({"messages":"hi"})", "non-empty array"},
      {R"({"messages":[{"content":"x"}]})", "messages[0] needs a string \"role\""},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "positive integer"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":"9"})", "positive integer"},
      {R"({"messages":[{"role":"user","content":"x"}],"concurrency":[1,0]})", "\"concurrency\" must be"},
      {R"({"prompt":7})", "\"prompt\" must be a string"},
      {R"([{"prompt":"a"},3])", "request 2: a request must be a JSON object"},
      {"{\"prompt\":\"a\"}\n{nope\n", "line 2 is not JSON"},
      {R"({"requests":{}})", "\"requests\" must be an array"},
  };
  for (const Case& c : cases) {
    TempFile f(c.text);
    WorkloadOptions o;
    o.kind = f.path;
    try {
      Workload::create(o);
      ADD_FAILURE() << "accepted: " << c.text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos) << c.text << " -> " << e.what();
      EXPECT_NE(std::string(e.what()).find(f.path), std::string::npos) << "errors name the file";
    }
  }
}

TEST(Workload, UnknownKindOrMissingFile) {
  WorkloadOptions o;
  o.kind = "/nonexistent/workload.json";
  try {
    Workload::create(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("random, shared-prefix or a file"), std::string::npos);
  }
}

}  // namespace
}  // namespace nagare::bench
