#include "grammar/nfa_builder.h"

#include <algorithm>
#include <functional>

#include "grammar/utf8_ranges.h"

namespace nagare::grammar {
namespace {

// Past this size (automaton states times copies), a non-recursive rule used in several places,
// or inside a large repetition, is kept as a call rather than copied into each.
constexpr uint64_t kInlineBudget = 1 << 15;
// Rules this small are copied wherever the place allows (whitespace, a string character).
constexpr uint64_t kAlwaysInline = 128;
// Inlining that nests deeper than this calls instead (bounds the builder's recursion).
constexpr int kMaxInlineDepth = 48;
constexpr uint64_t kSaturate = uint64_t(1) << 40;

uint64_t sat_add(uint64_t a, uint64_t b) { return std::min(kSaturate, a + b); }
uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kSaturate / b ? kSaturate : std::min(kSaturate, a * b);
}

// How many copies of its item a repetition builds: x{2,5} five, x{3,} four (three and a loop).
uint64_t copies(const Expr& e) { return e.max == kUnbounded ? uint64_t(e.min) + 1 : e.max; }

void collect_refs(const Expr& e, std::vector<uint32_t>& out) {
  if (e.kind == Expr::Kind::kRef) out.push_back(e.rule);
  for (const Expr& item : e.items) collect_refs(item, out);
}

// Each reference, weighted by the repetitions around it in its rule.
void count_ref_factors(const Expr& e, uint64_t factor, std::vector<uint64_t>& out) {
  if (e.kind == Expr::Kind::kRef) out[e.rule] = sat_add(out[e.rule], factor);
  const uint64_t inner = e.kind == Expr::Kind::kRepeat ? sat_mul(factor, copies(e)) : factor;
  for (const Expr& item : e.items) count_ref_factors(item, inner, out);
}

class Builder {
 public:
  Builder(const GrammarAst& ast, const GrammarLimits& limits) : ast_(ast), limits_(limits) {}

  NfaSet build() {
    analyze();
    NfaSet set;
    kept_index_.assign(ast_.names.size(), UINT32_MAX);
    keep(ast_.root);
    for (size_t i = 0; i < ast_.names.size(); ++i)
      if (i != ast_.root && reachable_[i] && !inline_[i]) keep(static_cast<uint32_t>(i));
    // Building may keep more rules (inlining too deep), so the list grows while it is walked.
    for (size_t k = 0; k < kept_.size(); ++k) {
      const uint32_t r = kept_[k];
      set.names.push_back(ast_.names[r]);
      set.rules.push_back(build_rule(r));
    }
    return set;
  }

 private:
  uint32_t keep(uint32_t rule) {
    if (kept_index_[rule] == UINT32_MAX) {
      kept_index_[rule] = static_cast<uint32_t>(kept_.size());
      kept_.push_back(rule);
    }
    return kept_index_[rule];
  }

  [[noreturn]] void too_large(uint32_t origin) const {
    const std::string& where = ast_.origins[origin];
    throw GrammarError((where.empty() ? std::string() : where + ": ") +
                       "the grammar expands past the limit of " + std::to_string(limits_.max_elements) +
                       " elements (a large repetition count, length bound or enum?)");
  }

  // Which rules are recursive (on a cycle of references), reachable from the root, and inlined.
  void analyze() {
    const size_t n = ast_.names.size();
    refs_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      collect_refs(ast_.bodies[i], refs_[i]);
      std::sort(refs_[i].begin(), refs_[i].end());
      refs_[i].erase(std::unique(refs_[i].begin(), refs_[i].end()), refs_[i].end());
    }
    // Tarjan's strongly connected components, iteratively (a long rule chain must not overflow).
    std::vector<int64_t> index(n, -1), low(n, 0);
    std::vector<bool> on_stack(n, false);
    std::vector<uint32_t> stack;
    recursive_.assign(n, false);
    int64_t next_index = 0;
    for (size_t root = 0; root < n; ++root) {
      if (index[root] >= 0) continue;
      std::vector<std::pair<uint32_t, size_t>> work{{static_cast<uint32_t>(root), 0}};
      while (!work.empty()) {
        auto& [v, child] = work.back();
        if (child == 0 && index[v] < 0) {
          index[v] = low[v] = next_index++;
          stack.push_back(v);
          on_stack[v] = true;
        }
        if (child < refs_[v].size()) {
          const uint32_t w = refs_[v][child++];
          if (w == v) recursive_[v] = true;
          if (index[w] < 0) {
            work.push_back({w, 0});
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], index[w]);
          }
          continue;
        }
        if (low[v] == index[v]) {
          std::vector<uint32_t> scc;
          uint32_t w;
          do {
            w = stack.back();
            stack.pop_back();
            on_stack[w] = false;
            scc.push_back(w);
          } while (w != v);
          if (scc.size() > 1)
            for (uint32_t x : scc) recursive_[x] = true;
        }
        const uint32_t done = v;
        work.pop_back();
        if (!work.empty()) low[work.back().first] = std::min(low[work.back().first], low[done]);
      }
    }
    reachable_.assign(n, false);
    std::vector<uint32_t> todo{ast_.root};
    reachable_[ast_.root] = true;
    while (!todo.empty()) {
      const uint32_t r = todo.back();
      todo.pop_back();
      for (uint32_t w : refs_[r])
        if (!reachable_[w]) reachable_[w] = true, todo.push_back(w);
    }
    std::vector<uint64_t> factors(n, 0);
    for (size_t i = 0; i < n; ++i)
      if (reachable_[i]) count_ref_factors(ast_.bodies[i], 1, factors);
    // Sizes bottom-up over the non-recursive rules (a DAG): a rule's size counts the rules it
    // inlines, so each decision sees its children's.
    inline_.assign(n, false);
    size_.assign(n, 0);
    std::vector<uint8_t> state(n, 0);  // 0 new, 1 open, 2 done
    for (size_t i = 0; i < n; ++i) {
      if (!reachable_[i] || recursive_[i] || state[i]) continue;
      std::vector<std::pair<uint32_t, size_t>> work{{static_cast<uint32_t>(i), 0}};
      state[i] = 1;
      while (!work.empty()) {
        auto& [v, child] = work.back();
        if (child < refs_[v].size()) {
          const uint32_t w = refs_[v][child++];
          if (!recursive_[w] && state[w] == 0) {
            state[w] = 1;
            work.push_back({w, 0});
          }
          continue;
        }
        size_[v] = expr_size(ast_.bodies[v]);
        inline_[v] = v != ast_.root && (factors[v] <= 1 || size_[v] <= kAlwaysInline ||
                                        sat_mul(size_[v], factors[v]) <= kInlineBudget);
        state[v] = 2;
        work.pop_back();
      }
    }
  }

  // Automaton states `e` builds where the repetitions around it make `mult` copies (a rule too
  // large to copy that often is called: two states).
  bool inlined_at(uint32_t rule, uint64_t mult) const {
    return inline_[rule] && (mult == 1 || sat_mul(size_[rule], mult) <= kInlineBudget);
  }
  uint64_t expr_size(const Expr& e, uint64_t mult = 1) const {
    switch (e.kind) {
      case Expr::Kind::kEmpty: return 1;
      case Expr::Kind::kLiteral: return e.text.size() + 1;
      case Expr::Kind::kCharSet: {
        uint64_t n = 1;
        for (CodeRange r : e.ranges)
          for (const auto& seq : utf8_sequences(r.lo, r.hi)) n += seq.size();
        return n;
      }
      case Expr::Kind::kRef: return inlined_at(e.rule, mult) ? size_[e.rule] : 2;
      case Expr::Kind::kSeq:
      case Expr::Kind::kAlt: {
        uint64_t n = 1;
        for (const Expr& item : e.items) n = sat_add(n, sat_add(expr_size(item, mult), 1));
        return n;
      }
      case Expr::Kind::kRepeat: {
        const uint64_t inner = sat_mul(mult, copies(e));
        return sat_add(sat_mul(expr_size(e.items[0], inner), copies(e)), 2);
      }
    }
    return 1;
  }

  uint32_t add_state() {
    if (++total_states_ > limits_.max_elements) too_large(origin_);
    return num_states_++;
  }
  void edge(uint32_t from, uint32_t to, Nfa::EdgeKind kind, uint8_t lo = 0, uint8_t hi = 0, uint32_t rule = 0) {
    pending_.push_back({from, Nfa::Edge{to, rule, kind, lo, hi}});
  }

  Nfa build_rule(uint32_t r) {
    num_states_ = 0;
    pending_.clear();
    Nfa nfa;
    nfa.start = add_state();
    inline_depth_ = 0;
    copies_ = 1;
    nfa.end = build(ast_.bodies[r], nfa.start);
    nfa.edge_begin.assign(num_states_ + 1, 0);
    for (const auto& [from, e] : pending_) ++nfa.edge_begin[from + 1];
    for (uint32_t s = 0; s < num_states_; ++s) nfa.edge_begin[s + 1] += nfa.edge_begin[s];
    nfa.edges.resize(pending_.size());
    std::vector<uint32_t> fill(nfa.edge_begin.begin(), nfa.edge_begin.end() - 1);
    for (const auto& [from, e] : pending_) nfa.edges[fill[from]++] = e;
    return nfa;
  }

  // Builds `e` starting at state `from`; returns the state where it ends.
  uint32_t build(const Expr& e, uint32_t from) {
    const uint32_t saved_origin = origin_;
    if (e.origin) origin_ = e.origin;
    uint32_t end = from;
    switch (e.kind) {
      case Expr::Kind::kEmpty:
        break;
      case Expr::Kind::kLiteral:
        for (char c : e.text) {
          const uint32_t next = add_state();
          edge(end, next, Nfa::kByte, static_cast<uint8_t>(c), static_cast<uint8_t>(c));
          end = next;
        }
        break;
      case Expr::Kind::kCharSet:
        end = add_state();
        for (CodeRange r : e.ranges) {
          for (const auto& seq : utf8_sequences(r.lo, r.hi)) {
            uint32_t cur = from;
            for (size_t i = 0; i < seq.size(); ++i) {
              const uint32_t next = i + 1 == seq.size() ? end : add_state();
              edge(cur, next, Nfa::kByte, seq[i].lo, seq[i].hi);
              cur = next;
            }
          }
        }
        break;
      case Expr::Kind::kRef:
        // Inside a repetition of many copies, a rule of any size is called, not copied each time.
        // Past a quarter of the state limit, copies stop: each reference becomes a call (an
        // object of many optional members refers to every tail of the member list).
        if (inlined_at(e.rule, copies_) && inline_depth_ < kMaxInlineDepth &&
            total_states_ + size_[e.rule] <= limits_.max_elements / 4) {
          ++inline_depth_;
          end = build(ast_.bodies[e.rule], from);
          --inline_depth_;
        } else {
          end = add_state();
          edge(from, end, Nfa::kCall, 0, 0, keep(e.rule));
        }
        break;
      case Expr::Kind::kSeq:
        for (const Expr& item : e.items) end = build(item, end);
        break;
      case Expr::Kind::kAlt:
        end = add_state();
        for (const Expr& item : e.items) {
          const uint32_t start = add_state();
          edge(from, start, Nfa::kEpsilon);
          edge(build(item, start), end, Nfa::kEpsilon);
        }
        break;
      case Expr::Kind::kRepeat: {
        const Expr& item = e.items[0];
        const uint64_t saved_copies = copies_;
        copies_ = sat_mul(copies_, copies(e));
        // Refused before building what would pass the limit (an estimate: it counts every rule
        // the item refers to as copied, so it is applied only where the item is copied).
        if (copies(e) > 1 && sat_mul(expr_size(item, copies_), copies(e)) > limits_.max_elements) too_large(origin_);
        for (uint32_t i = 0; i < e.min; ++i) end = build(item, end);
        if (e.max == kUnbounded) {
          const uint32_t loop = add_state();
          edge(end, loop, Nfa::kEpsilon);
          edge(build(item, loop), loop, Nfa::kEpsilon);
          end = loop;
        } else if (e.max > e.min) {
          const uint32_t exit = add_state();
          for (uint32_t i = e.min; i < e.max; ++i) {
            edge(end, exit, Nfa::kEpsilon);
            end = build(item, end);
          }
          edge(end, exit, Nfa::kEpsilon);
          end = exit;
        }
        copies_ = saved_copies;
        break;
      }
    }
    origin_ = saved_origin;
    return end;
  }

  const GrammarAst& ast_;
  const GrammarLimits& limits_;
  std::vector<std::vector<uint32_t>> refs_;
  std::vector<bool> recursive_, reachable_, inline_;
  std::vector<uint64_t> size_;
  std::vector<uint32_t> kept_index_, kept_;
  std::vector<std::pair<uint32_t, Nfa::Edge>> pending_;
  uint32_t num_states_ = 0;
  uint64_t total_states_ = 0;
  uint32_t origin_ = 0;
  int inline_depth_ = 0;
  uint64_t copies_ = 1;  // copies the repetitions around the current place make
};

}  // namespace

NfaSet build_nfas(const GrammarAst& ast, const GrammarLimits& limits) { return Builder(ast, limits).build(); }

}  // namespace nagare::grammar
