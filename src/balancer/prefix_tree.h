// PrefixTree: an approximate record of which prompt texts were sent to which worker, so that a
// request can go where its prefix is most likely still in the worker's KV prefix cache (as
// SGLang's and vLLM's routers do). A radix tree over bytes; each node lists the workers whose
// requests passed through it, with when they last did. Bounded in memory: past `max_chars`
// bytes of edge text, the least recently used leaves are dropped (the workers' own caches
// forget old prefixes too, so an old entry is worth least). Not thread-safe: the Balancer locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nagare {

class PrefixTree {
 public:
  explicit PrefixTree(size_t max_chars);
  ~PrefixTree();

  // `text` was sent to `worker`.
  void insert(std::string_view text, int worker);
  // For each worker that was sent some prefix of `text`: the longest such prefix, in bytes.
  std::map<int, size_t> match(std::string_view text) const;
  // Forgets a worker (removed, or restarted with an empty cache).
  void remove_worker(int worker);
  size_t chars() const { return chars_; }
  size_t nodes() const;

 private:
  struct Node;
  void evict();
  void erase_worker(Node& n, int worker);

  std::unique_ptr<Node> root_;
  size_t max_chars_;
  size_t chars_ = 0;
  uint64_t clock_ = 0;  // an access counter: later accesses have larger ticks
};

}  // namespace nagare
