// libFuzzer target for the GGUF reader: any input must parse or throw nagare::Error; a parsed
// file must re-serialize through GgufWriter into a file that parses to the same index.
// Build and run: see tests/fuzz/CMakeLists.txt.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nagare;
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::from_bytes("fuzz.gguf", std::vector<uint8_t>(data, data + size));
  } catch (const Error&) {
    return 0;
  }
  // Everything a parsed file exposes must be in bounds (ASan checks the reads).
  size_t sum = 0;
  for (const auto& key : f->metadata_order()) sum += f->find(key)->to_display(4).size();
  for (const auto& t : f->tensors())
    if (t.nbytes) sum += t.data[0] + t.data[t.nbytes - 1];

  GgufWriter w(f->version());
  for (const auto& key : f->metadata_order()) w.add_raw_metadata(key, *f->find(key));
  for (const auto& t : f->tensors()) {
    std::vector<uint64_t> dims(t.dims.begin(), t.dims.end());
    w.add_raw_tensor(t.name, uint32_t(t.type), dims, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  }
  auto g = GgufFile::from_bytes("rewritten.gguf", w.to_bytes());
  if (g->metadata_order() != f->metadata_order() || g->tensors().size() != f->tensors().size()) std::abort();
  for (const auto& key : f->metadata_order())
    if (!(*g->find(key) == *f->find(key))) std::abort();
  for (size_t i = 0; i < f->tensors().size(); ++i) {
    const auto &a = f->tensors()[i], &b = g->tensors()[i];
    if (a.name != b.name || a.type != b.type || a.dims != b.dims || a.nbytes != b.nbytes) std::abort();
    for (size_t k = 0; k < a.nbytes; ++k)
      if (a.data[k] != b.data[k]) std::abort();
  }
  return sum == 0xdeadbeef;  // keeps `sum` alive; libFuzzer ignores the value
}
