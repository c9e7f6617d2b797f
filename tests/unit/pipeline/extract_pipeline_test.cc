// The whole pipeline with a scripted LLM and documents given by the search provider (as the
// local: index gives them): the steps' order, citations that point at real chunks, the retry of
// an unusable extraction, and the report of what was missing.
#include <gtest/gtest.h>

#include "pipeline/extract_pipeline.h"
#include "scripted_llm.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

class GivenDocuments : public SearchProvider {
 public:
  std::vector<SearchResult> docs;
  std::vector<std::string> queries;
  std::vector<SearchResult> search(const std::string& query, int count) override {
    queries.push_back(query);
    if (query == "broken") throw Error("the provider is down");
    return docs;
  }
  std::string name() const override { return "given"; }
};

std::string doc(const std::string& topic, int paragraphs) {
  std::string s = "# " + topic + "\n\n";
  for (int i = 0; i < paragraphs; ++i)
    s += "Paragraph " + std::to_string(i) + " about " + topic + ". The route is 6.2 kilometres long and has nine stops. " +
         "Buses run every 20 minutes from 7 a.m. to 8 p.m.\n\n";
  return s;
}

struct Fixture {
  ScriptedLlm llm{8192};
  GivenDocuments search;
  Fetcher fetcher{FetchOptions{}};
  ExtractProgress progress{nullptr, false};
  ExtractOptions o;

  Fixture() {
    o.question = "How does the Minato bus run?";
    o.chunking.chunk_chars = 400;
    search.docs = {{"file:///a.md", "A", "", doc("the bus", 6)}, {"file:///b.md", "B", "", doc("the fares", 2)},
                   {"file:///a.md", "A again", "", doc("duplicate", 1)}};
    llm.answer = [](const LlmCall& call) -> std::string {
      if (call.id == "plan") return R"({"keywords": ["minato bus", "minato bus fares"], "questions": ["How long is the route?"]})";
      if (call.id.rfind("extract/", 0) == 0) {
        const int source = std::stoi(call.id.substr(8));
        return Json{{"answers", {"6.2 km, source " + std::to_string(source)}}, {"facts", {"nine stops"}}}.dump();
      }
      return R"({"answers": [{"answer": "6.2 km", "sources": [1, 2]}], "facts": [{"fact": "nine stops", "sources": [3]}], "summary": "It runs."})";
    };
  }
};

TEST(ExtractPipeline, RunsEveryStepAndCitesRealChunks) {
  Fixture f;
  ExtractReport r = run_extract(f.o, f.llm, f.search, f.fetcher, f.progress);
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"minato bus", "minato bus fares"}));
  EXPECT_EQ(f.search.queries, r.keywords);
  EXPECT_EQ(r.questions, std::vector<std::string>{"How long is the route?"});
  // a.md twice in the results (and from both queries): fetched and chunked once.
  std::set<std::string> urls;
  for (const auto& s : r.sources) urls.insert(s.url);
  EXPECT_EQ(urls, (std::set<std::string>{"file:///a.md", "file:///b.md"}));
  EXPECT_GT(r.sources.size(), 2u);
  for (size_t i = 0; i < r.sources.size(); ++i) {
    EXPECT_EQ(r.sources[i].id, int(i) + 1);
    const std::string& page = r.sources[i].url == "file:///a.md" ? f.search.docs[0].content : f.search.docs[1].content;
    EXPECT_NE(page.find(r.sources[i].text), std::string::npos);
  }
  ASSERT_EQ(r.extractions.size(), r.sources.size());
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].sources, (std::vector<int>{1, 2}));
  EXPECT_EQ(r.summary, "It runs.");
  EXPECT_TRUE(r.anything_extracted());
  EXPECT_TRUE(r.missing.empty()) << r.missing[0];
  std::vector<std::string> steps;
  for (const auto& s : r.steps) steps.push_back(s.name);
  EXPECT_EQ(steps, (std::vector<std::string>{"plan", "search", "fetch", "chunk", "extract", "merge"}));
  // Every citation in the JSON names a listed source.
  const Json j = report_json(r);
  std::set<int> ids;
  for (const auto& s : j["sources"]) ids.insert(s["id"].get<int>());
  for (const auto& a : j["answers"])
    for (const auto& s : a["sources"]) EXPECT_TRUE(ids.count(s.get<int>()));
  const std::string md = report_markdown(r);
  EXPECT_NE(md.find("## Sources"), std::string::npos);
  EXPECT_NE(md.find("[1](#source-1)"), std::string::npos);
}

TEST(ExtractPipeline, RetriesAnUnusableChunkOnceThenReportsIt) {
  Fixture f;
  f.o.keywords = {"k"};
  f.o.questions = {"q?"};
  std::map<std::string, int> tries;
  f.llm.answer = [&](const LlmCall& call) -> std::string {
    if (call.id == "extract/1") return ++tries[call.id] == 1 ? "garbage" : R"({"answers": ["fine"], "facts": []})";
    if (call.id == "extract/2") return ++tries[call.id], "still garbage";
    if (call.id.rfind("extract/", 0) == 0) return R"({"answers": ["no answer"], "facts": []})";
    return R"({"answers": [{"answer": "fine", "sources": [1]}], "facts": [], "summary": "s"})";
  };
  ExtractReport r = run_extract(f.o, f.llm, f.search, f.fetcher, f.progress);
  EXPECT_EQ(tries["extract/1"], 2);
  EXPECT_EQ(tries["extract/2"], 2);
  EXPECT_EQ(r.extractions[0].answers, std::vector<std::string>{"fine"});
  EXPECT_EQ(r.extractions[1].error, "the answer is not the JSON asked for");
  bool reported = false;
  for (const auto& m : r.missing) reported |= m.find("chunk [2]") != std::string::npos;
  EXPECT_TRUE(reported);
  for (const auto& c : f.llm.calls) EXPECT_NE(c.id, "plan");  // keywords and questions given
}

TEST(ExtractPipeline, NoResultsGiveAReportThatSaysSo) {
  Fixture f;
  f.o.keywords = {"broken", "nothing"};
  f.o.questions = {"q?"};
  f.search.docs.clear();
  ExtractReport r = run_extract(f.o, f.llm, f.search, f.fetcher, f.progress);
  EXPECT_FALSE(r.anything_extracted());
  const std::string all = Json(r.missing).dump();
  EXPECT_NE(all.find("search for \\\"broken\\\" failed: the provider is down"), std::string::npos) << all;
  EXPECT_NE(all.find("the search found no pages"), std::string::npos) << all;
  EXPECT_TRUE(f.llm.calls.empty());
}

TEST(ExtractPipeline, AQuestionOverTheContextIsRefusedWithTheLimit) {
  Fixture f;
  f.o.question = std::string(20000, 'q');
  try {
    run_extract(f.o, f.llm, f.search, f.fetcher, f.progress);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over the model's context of 8192 tokens"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(f.llm.calls.empty());
}

}  // namespace
}  // namespace nagare
