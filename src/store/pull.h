// `pull`: fetches a GGUF into the store from Hugging Face (hf.co/OWNER/REPO[:QUANT],
// hf.co/OWNER/REPO/FILE.gguf) or any http(s) URL. Downloads resume after an interruption (HTTP
// Range), are verified (size, sha256 when the source states it, GGUF header) and published
// atomically; concurrent pulls of one file share one download, in a process and across them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "store/model_store.h"
#include "store/pull_source.h"

namespace nagare {

struct PullProgress {
  enum class Phase { kResolving, kWaiting, kDownloading, kVerifying };
  Phase phase = Phase::kResolving;
  std::string file;              // the remote file (Hub path or URL)
  std::string digest;            // "sha256:<hex>" when the source states it, else ""
  uint64_t done = 0;             // bytes of the file on disk
  uint64_t total = 0;            // its size; 0 while unknown
  uint64_t resumed_from = 0;     // bytes that were already there when this download started
  double bytes_per_second = 0;   // over the last few seconds
};

struct PullOptions {
  // Called often during a pull (and while waiting for another pull of the same file, from that
  // pull's thread); must be quick.
  std::function<void(const PullProgress&)> progress;
  // When it becomes true the pull stops with an Error; the partial download stays for resuming.
  const std::atomic<bool>* cancel = nullptr;
};

struct PullResult {
  StoredModel model;
  bool downloaded = false;       // false when the weights were already in the store
  uint64_t bytes_downloaded = 0;
};

// Pulls `source` (see store/pull_source.h) into the store. Throws Error with what went wrong and
// what to do; nothing is listed unless everything checked out.
PullResult pull_model(ModelStore& store, std::string_view source, const PullOptions& options = {});

}  // namespace nagare
