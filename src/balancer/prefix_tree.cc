#include "balancer/prefix_tree.h"

#include <algorithm>
#include <utility>

namespace nagare {

struct PrefixTree::Node {
  std::string edge;  // the bytes from the parent to this node
  Node* parent = nullptr;
  std::map<unsigned char, std::unique_ptr<Node>> children;
  std::map<int, uint64_t> workers;  // worker -> tick of its last request through this node
  uint64_t last = 0;                // the newest of those ticks
};

PrefixTree::PrefixTree(size_t max_chars) : root_(std::make_unique<Node>()), max_chars_(max_chars) {}
PrefixTree::~PrefixTree() = default;

void PrefixTree::insert(std::string_view text, int worker) {
  const uint64_t tick = ++clock_;
  Node* n = root_.get();
  n->workers[worker] = n->last = tick;
  while (!text.empty()) {
    auto it = n->children.find(static_cast<unsigned char>(text[0]));
    if (it == n->children.end()) {
      auto leaf = std::make_unique<Node>();
      leaf->edge = std::string(text);
      leaf->parent = n;
      leaf->workers[worker] = leaf->last = tick;
      chars_ += text.size();
      n->children.emplace(static_cast<unsigned char>(text[0]), std::move(leaf));
      break;
    }
    Node* child = it->second.get();
    const size_t common = std::mismatch(child->edge.begin(), child->edge.end(), text.begin(), text.end()).first -
                          child->edge.begin();
    if (common < child->edge.size()) {
      // Split the edge: a new node holds the shared part, the old child keeps the rest. Both
      // halves were seen by the same workers.
      auto mid = std::make_unique<Node>();
      mid->edge = child->edge.substr(0, common);
      mid->parent = n;
      mid->workers = child->workers;
      mid->last = child->last;
      std::unique_ptr<Node> old = std::move(it->second);
      old->edge.erase(0, common);
      old->parent = mid.get();
      mid->children.emplace(static_cast<unsigned char>(old->edge[0]), std::move(old));
      it->second = std::move(mid);
      child = it->second.get();
    }
    child->workers[worker] = child->last = tick;
    text.remove_prefix(common);
    n = child;
  }
  if (chars_ > max_chars_) evict();
}

std::map<int, size_t> PrefixTree::match(std::string_view text) const {
  std::map<int, size_t> out;
  const Node* n = root_.get();
  size_t depth = 0;
  for (const auto& [w, tick] : n->workers) out[w] = 0;
  while (depth < text.size()) {
    auto it = n->children.find(static_cast<unsigned char>(text[depth]));
    if (it == n->children.end()) break;
    const Node* child = it->second.get();
    const std::string_view rest = text.substr(depth);
    const size_t common =
        std::mismatch(child->edge.begin(), child->edge.end(), rest.begin(), rest.end()).first - child->edge.begin();
    // A node's workers are a subset of its parent's: each is credited with the deepest point.
    for (const auto& [w, tick] : child->workers) out[w] = depth + common;
    if (common < child->edge.size()) break;
    depth += common;
    n = child;
  }
  return out;
}

void PrefixTree::erase_worker(Node& n, int worker) {
  if (n.workers.erase(worker) == 0) return;  // not below here either
  for (auto it = n.children.begin(); it != n.children.end();) {
    erase_worker(*it->second, worker);
    if (it->second->workers.empty()) {
      // Its whole subtree is gone from every worker.
      std::vector<Node*> stack{it->second.get()};
      while (!stack.empty()) {
        Node* x = stack.back();
        stack.pop_back();
        chars_ -= x->edge.size();
        for (auto& [c, ch] : x->children) stack.push_back(ch.get());
      }
      it = n.children.erase(it);
    } else {
      ++it;
    }
  }
}

void PrefixTree::remove_worker(int worker) { erase_worker(*root_, worker); }

// Drops least recently used leaves until the tree holds at most 90% of its bound (so eviction
// runs now and then, not on every insert).
void PrefixTree::evict() {
  const size_t target = max_chars_ / 10 * 9;
  std::vector<Node*> leaves;
  std::vector<Node*> stack{root_.get()};
  while (!stack.empty()) {
    Node* x = stack.back();
    stack.pop_back();
    if (x->children.empty() && x != root_.get()) leaves.push_back(x);
    for (auto& [c, ch] : x->children) stack.push_back(ch.get());
  }
  std::sort(leaves.begin(), leaves.end(), [](const Node* a, const Node* b) { return a->last < b->last; });
  for (Node* leaf : leaves) {
    if (chars_ <= target) break;
    // Remove the leaf, then any parent it leaves childless and older than what remains: a
    // chain of single-child nodes is one prefix and goes together.
    const uint64_t last = leaf->last;
    Node* x = leaf;
    while (x != root_.get() && x->children.empty() && x->last <= last) {
      Node* parent = x->parent;
      chars_ -= x->edge.size();
      parent->children.erase(static_cast<unsigned char>(x->edge[0]));  // frees x
      x = parent;
    }
  }
}

size_t PrefixTree::nodes() const {
  size_t n = 0;
  std::vector<const Node*> stack{root_.get()};
  while (!stack.empty()) {
    const Node* x = stack.back();
    stack.pop_back();
    ++n;
    for (auto& [c, ch] : x->children) stack.push_back(ch.get());
  }
  return n;
}

}  // namespace nagare
