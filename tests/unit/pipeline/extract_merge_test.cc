// The merge step with a scripted LLM: citations checked against the notes, attribution of
// uncited claims, and the hierarchical merge when the notes do not fit one call.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "pipeline/extract_merge.h"
#include "pipeline/prompts.h"
#include "scripted_llm.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

MergeInput input_with(std::vector<MergeNote> notes) {
  MergeInput in;
  in.question = "What happened?";
  in.questions = {"Where?", "When?"};
  in.notes = std::move(notes);
  in.max_source = 10;
  in.max_tokens = 100;
  return in;
}

TEST(ExtractMerge, ParsesJsonLeniently) {
  EXPECT_EQ(parse_json_answer("```json\n{\"a\": 1}\n```")["a"], 1);
  EXPECT_EQ(parse_json_answer("Sure! {\"a\": {\"b\": 2}} hope it helps")["a"]["b"], 2);
  EXPECT_TRUE(parse_json_answer("no json here").is_null());
  EXPECT_TRUE(parse_json_answer("{\"a\": ").is_null());
  EXPECT_TRUE(parse_json_answer("} {").is_null());
}

TEST(ExtractMerge, RendersNotesByQuestionWithSources) {
  const std::string s = render_notes({{0, "In Minato", {1}}, {-1, "6.2 km route", {2, 3}}}, 2);
  EXPECT_EQ(s, "Answers to question 1:\n- In Minato [1]\nAnswers to question 2:\n(none)\nFacts:\n- 6.2 km route [2, 3]\n");
}

TEST(ExtractMerge, AttributesAnUncitedSentenceToTheNoteItRepeats) {
  std::vector<MergeNote> notes = {{-1, "The bus runs every 20 minutes", {4}}, {-1, "Fares are 200 yen", {7}}};
  EXPECT_EQ(attribute_sources("Buses run every 20 minutes.", notes), std::vector<int>{4});
  EXPECT_EQ(attribute_sources("運賃は大人200円", {{-1, "運賃は大人200円、子ども100円", {2}}}), std::vector<int>{2});
  EXPECT_TRUE(attribute_sources("Something else entirely", notes).empty());
}

TEST(ExtractMerge, KeepsOnlyCitationsOfTheGivenNotesAndDropsUnbackedFacts) {
  ScriptedLlm llm(4096);
  llm.answer = [](const LlmCall&) {
    return R"({"answers": [{"answer": "In Minato", "sources": [1, 9]}, {"answer": "On Oct 1", "sources": []}],
               "facts": [{"fact": "6.2 km route", "sources": [2]}, {"fact": "Invented claim", "sources": [9]}],
               "summary": "A bus."})";
  };
  ExtractTrace trace;
  MergeOutput m = merge_notes(input_with({{0, "In Minato", {1}}, {1, "On October 1", {3}}, {-1, "a 6.2 km route", {2}}}),
                              PromptTemplates::defaults().merge, llm, trace);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].sources, std::vector<int>{1});        // 9 is no note's source
  EXPECT_EQ(m.answers[1].sources, std::vector<int>{3});        // attributed to the note it repeats
  ASSERT_EQ(m.facts.size(), 1u);                                // "Invented claim" has no backing
  EXPECT_EQ(m.facts[0].sources, std::vector<int>{2});
  EXPECT_EQ(m.summary, "A bus.");
  EXPECT_EQ(m.levels, 1);
  EXPECT_EQ(llm.calls.size(), 1u);
}

TEST(ExtractMerge, AnAnswerBackedByNoNoteFallsBackToTheNotes) {
  ScriptedLlm llm(4096);
  llm.answer = [](const LlmCall&) {
    return R"({"answers": [{"answer": "a", "sources": []}, {"answer": "no answer", "sources": []}], "facts": [], "summary": ""})";
  };
  ExtractTrace trace;
  MergeOutput m = merge_notes(input_with({{0, "In Minato", {1}}, {0, "Near Shiba Park", {4, 1}}}),
                              PromptTemplates::defaults().merge, llm, trace);
  EXPECT_EQ(m.answers[0].text, "In Minato Near Shiba Park");
  EXPECT_EQ(m.answers[0].sources, (std::vector<int>{1, 4}));
  EXPECT_TRUE(m.answers[1].text.empty());
}

TEST(ExtractMerge, AQuestionNoNoteAnswersStaysUnanswered) {
  ScriptedLlm llm(4096);
  llm.answer = [](const LlmCall&) {
    return R"({"answers": [{"answer": "Made up", "sources": [1]}, {"answer": "no answer", "sources": []}], "facts": [], "summary": ""})";
  };
  ExtractTrace trace;
  MergeOutput m = merge_notes(input_with({{-1, "a fact", {1}}}), PromptTemplates::defaults().merge, llm, trace);
  EXPECT_TRUE(m.answers[0].text.empty());
  EXPECT_TRUE(m.answers[1].text.empty());
}

TEST(ExtractMerge, MergesInGroupsWhenTheNotesDoNotFitOneCall) {
  // A context of 1,000 "tokens" (bytes / 2 here) with 60 notes of ~100 bytes each: several
  // group merges at level 1, each passing one note on, then one final merge.
  ScriptedLlm llm(1000);
  std::vector<MergeNote> notes;
  for (int i = 1; i <= 60; ++i) notes.push_back({-1, "Fact number " + std::to_string(i) + std::string(80, 'x'), {i}});
  llm.answer = [](const LlmCall& call) {
    // Cite the first source listed in the prompt's notes.
    const size_t at = call.user.find(" [", call.user.find("# Notes"));
    const int first = std::stoi(call.user.substr(at + 2));
    Json out = {{"answers", {{{"answer", "no answer"}, {"sources", Json::array()}}, {{"answer", "no answer"}, {"sources", Json::array()}}}},
                {"facts", {{{"fact", "merged " + std::to_string(first)}, {"sources", {first}}}}}};
    if (call.id == "merge") out["summary"] = "all merged";
    return out.dump();
  };
  MergeInput in = input_with(notes);
  in.max_source = 60;
  ExtractTrace trace;
  MergeOutput m = merge_notes(in, PromptTemplates::defaults().merge, llm, trace);
  EXPECT_GE(m.levels, 2);
  EXPECT_GT(llm.calls.size(), 2u);
  for (const auto& c : llm.calls) EXPECT_LE(llm.count_prompt_tokens(c) + c.max_tokens, 1000) << c.id;
  EXPECT_EQ(m.summary, "all merged");
  ASSERT_EQ(m.facts.size(), 1u);
  EXPECT_EQ(m.facts[0].sources, std::vector<int>{1});
}

TEST(ExtractMerge, AFailedFinalMergeIsReportedNotHidden) {
  ScriptedLlm llm(4096);
  llm.answer = [](const LlmCall&) { return std::string("I cannot do that"); };
  ExtractTrace trace;
  MergeOutput m = merge_notes(input_with({{0, "In Minato", {1}}}), PromptTemplates::defaults().merge, llm, trace);
  EXPECT_EQ(llm.calls.size(), 2u);  // and once more
  ASSERT_FALSE(m.problems.empty());
  EXPECT_NE(m.problems[0].find("not the JSON asked for"), std::string::npos);
}

TEST(ExtractPrompts, SchemasCompileAndTemplatesFill) {
  EXPECT_NO_THROW(Grammar::from_json_schema(plan_schema(3, true)));
  EXPECT_NO_THROW(Grammar::from_json_schema(extract_schema(3, 5)));
  EXPECT_NO_THROW(Grammar::from_json_schema(merge_schema(3, 12, 250, true)));
  EXPECT_EQ(fill_template("a {{x}} b {{y}}", {{"x", "1"}, {"y", "{{x}}"}}), "a 1 b {{x}}");
  EXPECT_THROW(fill_template("{{nope}}", {}), Error);
  EXPECT_TRUE(is_no_answer("No answer."));
  EXPECT_TRUE(is_no_answer("回答不可"));
  EXPECT_FALSE(is_no_answer("In Minato City"));
}

TEST(ExtractPrompts, TemplateFileReplacesSectionsAndRefusesUnknownPlaceholders) {
  const std::string dir = ::testing::TempDir();
  {
    std::ofstream f(dir + "/t1.txt");
    f << "# my prompts\n[extract]\nQ: {{question}}\nText: {{text}}\n";
  }
  PromptTemplates t = PromptTemplates::load(dir + "/t1.txt", PromptTemplates::defaults());
  EXPECT_EQ(t.extract, "Q: {{question}}\nText: {{text}}");
  EXPECT_EQ(t.merge, PromptTemplates::defaults().merge);
  {
    std::ofstream f(dir + "/t2.txt");
    f << "[merge]\n{{text}}\n";
  }
  try {
    PromptTemplates::load(dir + "/t2.txt", PromptTemplates::defaults());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t2.txt:1: unknown placeholder {{text}}"), std::string::npos) << e.what();
  }
  // The defaults written out load back as they are.
  {
    std::ofstream f(dir + "/t3.txt");
    f << PromptTemplates::defaults().to_file();
  }
  PromptTemplates back = PromptTemplates::load(dir + "/t3.txt", {});
  EXPECT_EQ(back.plan, PromptTemplates::defaults().plan);
  EXPECT_EQ(back.extract, PromptTemplates::defaults().extract);
  EXPECT_EQ(back.merge, PromptTemplates::defaults().merge);
}

}  // namespace
}  // namespace nagare
