// Helpers for the store tests: a temporary directory removed afterwards, small GGUF files made
// with GgufWriter, and file reading and hashing.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gguf/gguf_writer.h"
#include "util/sha256.h"

namespace nagare::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nagare-store-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// A valid GGUF of about 4 * n_floats bytes, different for each seed.
inline std::string tiny_gguf(int seed, size_t n_floats = 1024) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "store test " + std::to_string(seed));
  std::vector<float> values(n_floats);
  for (size_t i = 0; i < n_floats; ++i) values[i] = float(seed) + float(i) * 0.5f;
  w.add_tensor_f32("t", {int64_t(n_floats)}, values);
  auto bytes = w.to_bytes();
  return std::string(bytes.begin(), bytes.end());
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Names of the files directly in `dir` ("" entries never; empty when dir is missing).
inline std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nagare::testing
