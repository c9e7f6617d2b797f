#include "pipeline/extract_merge.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_set>

#include "util/utf8.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxLevels = 6;

std::string questions_list(const std::vector<std::string>& questions) {
  std::string s;
  for (size_t i = 0; i < questions.size(); ++i) s += std::to_string(i + 1) + ". " + questions[i] + "\n";
  return s;
}

std::string cite(const std::vector<int>& sources) {
  std::string s = " [";
  for (size_t i = 0; i < sources.size(); ++i) s += (i ? ", " : "") + std::to_string(sources[i]);
  return s + "]";
}

// Code points of a string, for bigrams that work for Japanese as for English.
std::vector<uint32_t> code_points(const std::string& s) {
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = next_code_point(s, i);
    if (cp < 0x80) cp = uint32_t(std::tolower(int(cp)));
    if (!(cp < 0x80 && std::isspace(int(cp)))) cps.push_back(cp);
  }
  return cps;
}

std::unordered_set<uint64_t> bigrams(const std::string& s) {
  const auto cps = code_points(s);
  std::unordered_set<uint64_t> out;
  for (size_t i = 0; i + 1 < cps.size(); ++i) out.insert((uint64_t(cps[i]) << 32) | cps[i + 1]);
  return out;
}

struct Call {
  std::vector<MergeNote> notes;
  bool final = false;
};

// The merge call for one group of notes.
LlmCall merge_call(const MergeInput& in, const std::vector<MergeNote>& notes, bool final, const std::string& tmpl,
                   const std::string& id) {
  LlmCall call;
  call.id = id;
  call.user = fill_template(tmpl, {{"question", in.question},
                                   {"questions", questions_list(in.questions)},
                                   {"facts_n", std::to_string(in.report_facts)},
                                   {"notes", render_notes(notes, in.questions.size())}});
  call.schema = merge_schema(int(in.questions.size()), in.report_facts, in.max_source, final);
  call.max_tokens = in.max_tokens;
  call.temperature = in.temperature;
  call.seed = in.seed;
  return call;
}

// Citations kept only where they name a source of the group's notes; none left: attributed.
std::vector<int> checked_sources(const Json& j, const std::set<int>& allowed, const std::string& text,
                                 const std::vector<MergeNote>& notes) {
  std::vector<int> out;
  if (j.is_array())
    for (const Json& s : j)
      if (s.is_number_integer() && allowed.count(s.get<int>()) &&
          std::find(out.begin(), out.end(), s.get<int>()) == out.end())
        out.push_back(s.get<int>());
  if (out.empty()) out = attribute_sources(text, notes);
  return out;
}

std::string text_field(const Json& item, const char* field) {
  if (item.is_string()) return item.get<std::string>();
  if (item.is_object() && item.contains(field) && item[field].is_string()) return item[field].get<std::string>();
  return "";
}

// A merge call's answer parsed into answers and facts over the group's notes; false when it is
// not the JSON asked for.
bool parse_merge(const std::string& text, const std::vector<MergeNote>& notes, size_t questions_n, MergeOutput& out) {
  const Json j = parse_json_answer(text);
  if (!j.is_object() || !j.contains("answers") || !j["answers"].is_array()) return false;
  std::set<int> allowed;
  std::vector<bool> asked(questions_n, false);
  for (const auto& n : notes) {
    allowed.insert(n.sources.begin(), n.sources.end());
    if (n.question >= 0 && size_t(n.question) < questions_n) asked[size_t(n.question)] = true;
  }
  out.answers.assign(questions_n, {});
  for (size_t q = 0; q < questions_n && q < j["answers"].size(); ++q) {
    const Json& a = j["answers"][q];
    std::string t = text_field(a, "answer");
    // No note answers the question: whatever the model wrote, it did not come from the sources.
    if (is_no_answer(t) || !asked[q]) continue;
    std::vector<MergeNote> on_q;
    for (const auto& n : notes)
      if (n.question == int(q)) on_q.push_back(n);
    auto sources = checked_sources(a.is_object() && a.contains("sources") ? a["sources"] : Json(), allowed, t, on_q);
    if (sources.empty()) {
      // Notes answer the question but the merged answer cites none and repeats none (a small
      // model may write "a"): the notes themselves are the answer, with their sources.
      t.clear();
      for (const auto& n : on_q) {
        t += (t.empty() ? "" : " ") + n.text;
        for (int s : n.sources)
          if (std::find(sources.begin(), sources.end(), s) == sources.end()) sources.push_back(s);
      }
    }
    out.answers[q] = {t, std::move(sources)};
  }
  if (j.contains("facts") && j["facts"].is_array())
    for (const Json& f : j["facts"]) {
      std::string t = text_field(f, "fact");
      if (t.empty()) continue;
      auto sources = checked_sources(f.is_object() && f.contains("sources") ? f["sources"] : Json(), allowed, t, notes);
      if (sources.empty()) continue;  // a fact no note backs is not reported
      out.facts.push_back({t, std::move(sources)});
    }
  if (j.contains("summary") && j["summary"].is_string()) out.summary = j["summary"].get<std::string>();
  return true;
}

}  // namespace

std::string render_notes(const std::vector<MergeNote>& notes, size_t questions_n) {
  std::string s;
  for (size_t q = 0; q < questions_n; ++q) {
    std::string lines;
    for (const auto& n : notes)
      if (n.question == int(q)) lines += "- " + n.text + cite(n.sources) + "\n";
    s += "Answers to question " + std::to_string(q + 1) + ":\n" + (lines.empty() ? "(none)\n" : lines);
  }
  std::string facts;
  for (const auto& n : notes)
    if (n.question < 0) facts += "- " + n.text + cite(n.sources) + "\n";
  s += "Facts:\n" + (facts.empty() ? "(none)\n" : facts);
  return s;
}

std::vector<int> attribute_sources(const std::string& text, const std::vector<MergeNote>& notes) {
  const auto mine = bigrams(text);
  if (mine.empty()) return {};
  double best = 0;
  std::vector<int> out;
  for (const auto& n : notes) {
    const auto theirs = bigrams(n.text);
    size_t shared = 0;
    for (uint64_t b : mine) shared += theirs.count(b);
    const double overlap = double(shared) / double(mine.size());
    if (overlap < 0.3 || overlap < best) continue;
    if (overlap > best) out.clear();
    best = overlap;
    for (int s : n.sources)
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

Json parse_json_answer(const std::string& text) {
  const size_t open = text.find('{');
  const size_t close = text.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return nullptr;
  Json j = Json::parse(text.begin() + std::ptrdiff_t(open), text.begin() + std::ptrdiff_t(close) + 1, nullptr, false);
  return j.is_discarded() ? Json(nullptr) : j;
}

MergeOutput merge_notes(const MergeInput& in, const std::string& tmpl, LlmBackend& llm, ExtractTrace& trace) {
  MergeOutput result;
  result.answers.assign(in.questions.size(), {});
  std::vector<MergeNote> notes = in.notes;
  if (notes.empty()) return result;
  const int32_t budget = llm.context_tokens() - in.max_tokens;

  for (int level = 1; level <= kMaxLevels; ++level) {
    result.levels = level;
    const LlmCall whole = merge_call(in, notes, true, tmpl, "merge");
    const int32_t whole_tokens = llm.count_prompt_tokens(whole);
    std::vector<Call> groups;
    if (whole_tokens <= budget) {
      groups.push_back({notes, true});
    } else {
      // Greedy groups by each note's share of the whole prompt's tokens, with a margin; a group
      // that still does not fit is halved below.
      const int32_t base = llm.count_prompt_tokens(merge_call(in, {}, false, tmpl, "merge"));
      const size_t notes_bytes = std::max<size_t>(1, render_notes(notes, in.questions.size()).size());
      const double per_byte = 1.15 * double(whole_tokens - base) / double(notes_bytes);
      const double room = std::max(64.0, double(budget - base));
      Call group;
      double used = 0;
      for (auto& n : notes) {
        double cost = per_byte * double(n.text.size() + 16);
        if (cost > room) {  // one note larger than a whole call: cut it to fit
          n.text.resize(std::min(n.text.size(), size_t(room / per_byte * 0.8)));
          while (!n.text.empty() && (uint8_t(n.text.back()) & 0xC0) == 0x80) n.text.pop_back();
          if (!n.text.empty() && uint8_t(n.text.back()) >= 0xC0) n.text.pop_back();
          cost = per_byte * double(n.text.size() + 16);
        }
        if (used + cost > room && !group.notes.empty()) {
          groups.push_back(std::move(group));
          group = {};
          used = 0;
        }
        group.notes.push_back(n);
        used += cost;
      }
      if (!group.notes.empty()) groups.push_back(std::move(group));
      // Halve any group whose real prompt is still over the budget.
      for (size_t g = 0; g < groups.size();) {
        const auto& gn = groups[g].notes;
        if (gn.size() > 1 && llm.count_prompt_tokens(merge_call(in, gn, false, tmpl, "merge")) > budget) {
          Call second{{gn.begin() + std::ptrdiff_t(gn.size() / 2), gn.end()}, false};
          groups[g].notes.resize(gn.size() / 2);
          groups.insert(groups.begin() + std::ptrdiff_t(g) + 1, std::move(second));
        } else {
          ++g;
        }
      }
    }

    std::vector<LlmCall> calls;
    for (size_t g = 0; g < groups.size(); ++g)
      calls.push_back(merge_call(in, groups[g].notes, groups[g].final, tmpl,
                                 groups[g].final ? "merge" : "merge/" + std::to_string(level) + "/" + std::to_string(g)));
    std::vector<LlmResult> results = llm.run(calls, in.parallel);
    std::vector<MergeNote> next;
    for (size_t g = 0; g < groups.size(); ++g) {
      LlmResult r = results[g];
      trace.record("merge", calls[g], r, 1);
      MergeOutput part;
      bool parsed = r.ok() && parse_merge(r.text, groups[g].notes, in.questions.size(), part);
      if (!parsed && r.ok()) {  // once more with room to finish, when the answer was cut off
        LlmCall again = calls[g];
        again.max_tokens = std::min(budget, again.max_tokens * 2);
        again.seed += 1;
        result.prompt_tokens += r.prompt_tokens;
        result.completion_tokens += r.completion_tokens;
        ++result.calls;
        r = llm.run({again}, 1)[0];
        trace.record("merge", again, r, 2);
        parsed = r.ok() && parse_merge(r.text, groups[g].notes, in.questions.size(), part);
      }
      result.prompt_tokens += r.prompt_tokens;
      result.completion_tokens += r.completion_tokens;
      ++result.calls;
      if (!parsed) {
        result.problems.push_back("merge call " + calls[g].id + " failed (" +
                                  (r.ok() ? "its answer is not the JSON asked for" : r.error) +
                                  "); its notes are kept unmerged");
        next.insert(next.end(), groups[g].notes.begin(), groups[g].notes.end());
        continue;
      }
      if (groups[g].final) {
        part.levels = result.levels;
        part.calls = result.calls;
        part.prompt_tokens = result.prompt_tokens;
        part.completion_tokens = result.completion_tokens;
        part.problems = result.problems;
        return part;
      }
      for (size_t q = 0; q < part.answers.size(); ++q)
        if (!part.answers[q].text.empty()) next.push_back({int(q), part.answers[q].text, part.answers[q].sources});
      for (const auto& f : part.facts) next.push_back({-1, f.text, f.sources});
    }
    if (groups.size() == 1 || next.size() >= notes.size()) {
      // The final call failed, or the groups' merges shrank nothing: stop; the report keeps the
      // notes by source.
      result.problems.push_back("the notes could not be merged into one answer per question");
      return result;
    }
    notes = std::move(next);
  }
  result.problems.push_back("the notes did not fit the context after " + std::to_string(kMaxLevels) + " merge levels");
  return result;
}

}  // namespace nagare
