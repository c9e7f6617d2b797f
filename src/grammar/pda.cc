#include "grammar/pda.h"

#include <algorithm>
#include <unordered_map>

#include "grammar/nfa_builder.h"

namespace nagare::grammar {
namespace {

// A transition table past this many entries (states x byte classes) is refused: 64 MiB.
constexpr uint64_t kMaxTableEntries = uint64_t(1) << 24;

struct VecHash {
  size_t operator()(const std::vector<uint32_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (uint32_t x : v) h = (h ^ x) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

class Determinizer {
 public:
  Determinizer(const NfaSet& set, const GrammarLimits& limits, Pda& pda)
      : set_(set), limits_(limits), pda_(pda) {}

  void run() {
    compute_classes();
    for (uint32_t r = 0; r < set_.rules.size(); ++r) determinize(r);
    pda_.call_begin.push_back(static_cast<uint32_t>(pda_.calls.size()));
  }

 private:
  void compute_classes() {
    std::bitset<257> boundary;
    for (const Nfa& nfa : set_.rules)
      for (const Nfa::Edge& e : nfa.edges)
        if (e.kind == Nfa::kByte) boundary.set(e.lo), boundary.set(e.hi + 1u);
    uint32_t cls = 0;
    for (int b = 0; b < 256; ++b) {
      if (b > 0 && boundary.test(static_cast<size_t>(b))) ++cls;
      pda_.byte_class[static_cast<size_t>(b)] = static_cast<uint8_t>(cls);
    }
    pda_.num_classes = cls + 1;
  }

  // The epsilon closure of `set`, keeping only the states that matter to what follows (those
  // that read a byte or call a rule, and the end): sets that differ only in pass-through states
  // are then one DFA state (after a string's opening quote and after its first character).
  void closure(const Nfa& nfa, std::vector<uint32_t>& set) {
    ++mark_gen_;
    if (mark_.size() < nfa.num_states()) mark_.resize(nfa.num_states(), 0);
    std::vector<uint32_t>& todo = todo_;
    todo.assign(set.begin(), set.end());
    set.clear();
    while (!todo.empty()) {
      const uint32_t q = todo.back();
      todo.pop_back();
      if (mark_[q] == mark_gen_) continue;
      mark_[q] = mark_gen_;
      bool important = q == nfa.end;
      for (uint32_t i = nfa.edge_begin[q]; i < nfa.edge_begin[q + 1]; ++i) {
        if (nfa.edges[i].kind != Nfa::kEpsilon) important = true;
        else if (mark_[nfa.edges[i].to] != mark_gen_) todo.push_back(nfa.edges[i].to);
      }
      if (important) set.push_back(q);
    }
    std::sort(set.begin(), set.end());
  }

  uint32_t intern(std::vector<uint32_t>&& subset, uint32_t rule) {
    auto it = ids_.find(subset);
    if (it != ids_.end()) return it->second;
    const uint32_t id = pda_.num_states();
    if (id + 1 > limits_.max_automaton_states ||
        uint64_t(id + 1) * pda_.num_classes > kMaxTableEntries)
      throw GrammarError("the grammar is too complex: its automaton passes " +
                         std::to_string(std::min<uint64_t>(limits_.max_automaton_states, kMaxTableEntries / pda_.num_classes)) +
                         " states (an ambiguous pattern such as (a|b)*a(a|b){20}?)");
    pda_.flags.push_back(0);
    pda_.rule_of.push_back(rule);
    pda_.trans.resize(pda_.trans.size() + pda_.num_classes, Pda::kDead);
    ids_.emplace(subset, id);
    queue_.push_back({id, std::move(subset)});
    return id;
  }

  void determinize(uint32_t r) {
    const Nfa& nfa = set_.rules[r];
    ids_.clear();
    queue_.clear();
    std::vector<uint32_t> start{nfa.start};
    closure(nfa, start);
    pda_.rule_start.push_back(intern(std::move(start), r));
    std::vector<std::vector<uint32_t>> buckets(pda_.num_classes);
    std::vector<std::pair<uint32_t, uint32_t>> call_targets;  // (rule, nfa state)
    for (size_t k = 0; k < queue_.size(); ++k) {
      const uint32_t id = queue_[k].first;
      const std::vector<uint32_t> subset = queue_[k].second;  // queue_ may grow below
      for (auto& b : buckets) b.clear();
      call_targets.clear();
      for (uint32_t q : subset) {
        if (q == nfa.end) pda_.flags[id] |= Pda::kFinal;
        for (uint32_t i = nfa.edge_begin[q]; i < nfa.edge_begin[q + 1]; ++i) {
          const Nfa::Edge& e = nfa.edges[i];
          if (e.kind == Nfa::kByte) {
            for (uint32_t c = pda_.byte_class[e.lo]; c <= pda_.byte_class[e.hi]; ++c) buckets[c].push_back(e.to);
          } else if (e.kind == Nfa::kCall) {
            call_targets.push_back({e.rule, e.to});
          }
        }
      }
      for (uint32_t c = 0; c < pda_.num_classes; ++c) {
        if (buckets[c].empty()) continue;
        std::vector<uint32_t> next = buckets[c];
        closure(nfa, next);
        const uint32_t to = intern(std::move(next), r);
        pda_.trans[size_t(id) * pda_.num_classes + c] = to;
      }
      std::sort(call_targets.begin(), call_targets.end());
      std::vector<Pda::Call> calls;
      for (size_t i = 0; i < call_targets.size();) {
        const uint32_t rule = call_targets[i].first;
        std::vector<uint32_t> next;
        for (; i < call_targets.size() && call_targets[i].first == rule; ++i) next.push_back(call_targets[i].second);
        closure(nfa, next);
        calls.push_back({rule, intern(std::move(next), r)});
      }
      state_calls_.resize(pda_.num_states());
      state_calls_[id] = std::move(calls);
    }
    // Calls in state order (states of one rule are numbered contiguously, and this rule's last).
    for (uint32_t s = static_cast<uint32_t>(pda_.call_begin.size()); s < pda_.num_states(); ++s) {
      pda_.call_begin.push_back(static_cast<uint32_t>(pda_.calls.size()));
      for (const Pda::Call& c : state_calls_[s]) pda_.calls.push_back(c);
    }
  }

  const NfaSet& set_;
  const GrammarLimits& limits_;
  Pda& pda_;
  std::unordered_map<std::vector<uint32_t>, uint32_t, VecHash> ids_;
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> queue_;
  std::vector<std::vector<Pda::Call>> state_calls_;
  std::vector<uint32_t> mark_, todo_;
  uint32_t mark_gen_ = 0;
};

// Nullable rules, first and follow bytes, and the state flags, each a least fixpoint.
void analyze(Pda& pda) {
  const uint32_t n = pda.num_states();
  const size_t rules = pda.rule_start.size();
  std::vector<ByteSet> class_bytes(pda.num_classes);
  for (int b = 0; b < 256; ++b) class_bytes[pda.byte_class[static_cast<size_t>(b)]].set(static_cast<size_t>(b));

  std::vector<uint8_t> can_finish(n, 0);
  pda.rule_nullable.assign(rules, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (uint32_t s = 0; s < n; ++s) {
      if (can_finish[s]) continue;
      bool f = pda.has(s, Pda::kFinal);
      for (uint32_t i = pda.call_begin[s]; !f && i < pda.call_begin[s + 1]; ++i)
        f = pda.rule_nullable[pda.calls[i].rule] && can_finish[pda.calls[i].ret];
      if (f) {
        can_finish[s] = 1;
        changed = true;
        if (s == pda.rule_start[pda.rule_of[s]]) pda.rule_nullable[pda.rule_of[s]] = 1;
      }
    }
  }

  std::vector<ByteSet> first(n);
  for (uint32_t s = 0; s < n; ++s)
    for (uint32_t c = 0; c < pda.num_classes; ++c)
      if (pda.trans[size_t(s) * pda.num_classes + c] != Pda::kDead) first[s] |= class_bytes[c];
  for (bool changed = true; changed;) {
    changed = false;
    for (uint32_t s = 0; s < n; ++s) {
      ByteSet f = first[s];
      for (uint32_t i = pda.call_begin[s]; i < pda.call_begin[s + 1]; ++i) {
        const Pda::Call& c = pda.calls[i];
        f |= first[pda.rule_start[c.rule]];
        if (pda.rule_nullable[c.rule]) f |= first[c.ret];
      }
      if (f != first[s]) first[s] = f, changed = true;
    }
  }
  pda.rule_first.resize(rules);
  for (size_t r = 0; r < rules; ++r) pda.rule_first[r] = first[pda.rule_start[r]];

  pda.rule_follow.assign(rules, ByteSet());
  for (bool changed = true; changed;) {
    changed = false;
    for (uint32_t s = 0; s < n; ++s) {
      for (uint32_t i = pda.call_begin[s]; i < pda.call_begin[s + 1]; ++i) {
        const Pda::Call& c = pda.calls[i];
        ByteSet f = pda.rule_follow[c.rule] | first[c.ret];
        if (can_finish[c.ret]) f |= pda.rule_follow[pda.rule_of[s]];
        if (f != pda.rule_follow[c.rule]) pda.rule_follow[c.rule] = f, changed = true;
      }
    }
  }

  for (uint32_t s = 0; s < n; ++s) {
    const bool has_calls = pda.call_begin[s + 1] > pda.call_begin[s];
    if (!pda.has(s, Pda::kFinal) && !has_calls) pda.flags[s] |= Pda::kSimple;
    if (can_finish[s]) pda.flags[s] |= Pda::kCanFinish;
    if (first[s].any()) pda.flags[s] |= Pda::kCanExtend;
  }
}

// A path that calls rules without reading a byte and comes back to where it started would
// expand forever: left recursion (a rule that can begin with itself, perhaps after rules that
// match the empty string), or a repetition of something that can be empty. Refused by name.
void check_left_recursion(const Pda& pda) {
  const uint32_t n = pda.num_states();
  std::vector<uint8_t> color(n, 0);  // 0 new, 1 on the path, 2 done
  std::vector<uint32_t> parent(n, UINT32_MAX);
  auto successors = [&](uint32_t s, std::vector<uint32_t>& out) {
    out.clear();
    for (uint32_t i = pda.call_begin[s]; i < pda.call_begin[s + 1]; ++i) {
      const Pda::Call& c = pda.calls[i];
      out.push_back(pda.rule_start[c.rule]);
      if (pda.rule_nullable[c.rule]) out.push_back(c.ret);
    }
  };
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> work;
  for (uint32_t root = 0; root < n; ++root) {
    if (color[root] || pda.call_begin[root + 1] == pda.call_begin[root]) continue;
    work.clear();
    work.push_back({root, {}});
    successors(root, work.back().second);
    color[root] = 1;
    while (!work.empty()) {
      auto& [s, succ] = work.back();
      if (succ.empty()) {
        color[s] = 2;
        work.pop_back();
        continue;
      }
      const uint32_t t = succ.back();
      succ.pop_back();
      if (color[t] == 1) {
        // The cycle is the path from t to s: name its rules in order.
        std::vector<std::string> names;
        bool through_start = false;
        for (size_t i = 0; i < work.size(); ++i) {
          if (work[i].first != t && names.empty()) continue;
          const uint32_t q = work[i].first;
          const std::string& name = pda.rule_names[pda.rule_of[q]];
          if (q == pda.rule_start[pda.rule_of[q]]) through_start = true;
          if (names.empty() || names.back() != name) names.push_back(name);
        }
        if (!through_start)
          throw GrammarError("rule '" + names.front() +
                             "' repeats a rule reference that can match the empty string, which would loop forever");
        std::string chain;
        for (const std::string& name : names) chain += name + " -> ";
        throw GrammarError("left recursion in rule '" + names.front() + "' (" + chain + names.front() +
                           "); rewrite it right-recursive, e.g. expr ::= term (\"+\" term)*");
      }
      if (color[t] == 0) {
        color[t] = 1;
        work.push_back({t, {}});
        successors(t, work.back().second);
      }
    }
  }
}

}  // namespace

Pda compile_pda(const GrammarAst& ast, const GrammarLimits& limits) {
  const NfaSet nfas = build_nfas(ast, limits);
  Pda pda;
  pda.rule_names = nfas.names;
  Determinizer(nfas, limits, pda).run();
  analyze(pda);
  check_left_recursion(pda);
  return pda;
}

}  // namespace nagare::grammar
