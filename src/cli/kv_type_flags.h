// --cache-type-k / --cache-type-v (llama.cpp's names and values), shared by `serve`, `run` and
// `bench-model`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "model/kv_cache.h"

namespace nagare {

struct KvTypeFlags {
  std::string k = "f16", v = "f16";
  void add(CLI::App* cmd);
  KvTypes types() const;  // throws Error for an unknown name
};

}  // namespace nagare
