// Writes nagare's logits for one token sequence, every position, full vocabulary: the engine side
// of scripts/accuracy (docs/accuracy.md). A tool, never run by ctest.
//
//   dump_logits MODEL.gguf IDS.txt OUT.f32 [threads] [n_ctx] [cache_type_k] [cache_type_v]
//
// IDS.txt: whitespace-separated token ids (the whole sequence, BOS included). OUT.f32: raw
// little-endian float32, n_tokens x n_vocab, row after row. The sequence runs as one sequence from
// position 0 in prefill chunks of up to 512 tokens, as the model goldens run it; n_ctx (default 512,
// the goldens' context) is the context the model is set up for (Model::use_context: LongRoPE). The
// cache types are f16 (default), q8_0 or q4_0 (scripts/accuracy/kv_types.py compares them).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/model.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.gguf IDS.txt OUT.f32 [threads] [n_ctx] [cache_type_k] [cache_type_v]\n", argv[0]);
    return 2;
  }
  try {
    std::vector<int32_t> ids;
    {
      std::ifstream in(argv[2]);
      for (int64_t v; in >> v;) ids.push_back(int32_t(v));
    }
    if (ids.empty()) throw std::runtime_error("no token ids");
    const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
    auto model = nagare::Model::load(argv[1]);
    model->use_context(argc > 5 ? std::atoi(argv[5]) : 512);
    const int64_t V = model->config().n_vocab;
    const int32_t bs = 16;
    const nagare::KvTypes types{nagare::parse_kv_type(argc > 6 ? argv[6] : "f16"),
                                nagare::parse_kv_type(argc > 7 ? argv[7] : "f16")};
    nagare::KvCache kv(model->config(), int32_t((ids.size() + bs - 1) / bs) + 1, bs, types);
    std::vector<int32_t> table;
    for (int32_t i = 0; i < kv.n_blocks(); ++i) table.push_back(i);
    nagare::ThreadPool pool(threads);
    std::FILE* out = std::fopen(argv[3], "wb");
    if (!out) throw std::runtime_error(std::string("cannot write ") + argv[3]);
    for (size_t start = 0; start < ids.size(); start += 512) {
      const size_t end = std::min(ids.size(), start + 512);
      nagare::Batch b;
      b.sequences.push_back({table.data(), int32_t(table.size())});
      for (size_t i = start; i < end; ++i) b.add(ids[i], int32_t(i), 0, true);
      std::vector<float> logits(size_t(b.n_logits()) * size_t(V));
      model->forward(b, kv, logits.data(), pool);
      if (std::fwrite(logits.data(), sizeof(float), logits.size(), out) != logits.size())
        throw std::runtime_error("write failed");
    }
    std::fclose(out);
    std::fprintf(stderr, "%zu tokens x %lld logits\n", ids.size(), (long long)V);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dump_logits: %s\n", e.what());
    return 1;
  }
  return 0;
}
