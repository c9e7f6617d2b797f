// The quantize driver: plan every tensor's type, write the header, then stream each tensor's
// data (copied, or dequantized to float and quantized in row slabs across the thread pool).
#include "quantize/quantizer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include <unistd.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "kernels/quant.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace nagare {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION
constexpr size_t kSlabBytes = size_t(64) << 20;  // output bytes converted between writes

// llama.cpp's tensor order: tensors outside the blocks first, then block by block, by name within.
bool llama_order(const GgufTensor* a, const GgufTensor* b) {
  auto block = [](const std::string& n) {
    int layer = -1;
    std::sscanf(n.c_str(), "blk.%d.", &layer);
    return layer;
  };
  const int la = block(a->name), lb = block(b->name);
  return la != lb ? la < lb : a->name < b->name;
}

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

std::string shape(const GgufTensor& t) {
  std::string s;
  for (int64_t d : t.dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return "[" + s + "]";
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", double(bytes) / (1 << 20));
  return buf;
}

// An output file written under a temporary name and renamed into place by commit(); removed if
// never committed, so a failed run leaves nothing that looks like a model.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), tmp_(path + ".part" + std::to_string(::getpid())) {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) throw Error(path_ + ": cannot create: " + std::strerror(errno));
  }
  ~OutputFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  void write(const void* data, size_t n) {
    if (n && std::fwrite(data, 1, n, f_) != n) throw Error(path_ + ": cannot write: " + std::strerror(errno));
  }
  void zeros(size_t n) {
    static const uint8_t kZeros[64] = {};
    for (; n > 0; n -= std::min(n, sizeof kZeros)) write(kZeros, std::min(n, sizeof kZeros));
  }
  void commit() {
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) throw Error(path_ + ": cannot write: " + std::strerror(errno));
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) throw Error(path_ + ": cannot rename the finished file into place: " + ec.message());
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Rows [r0, r1) of t converted to `to`, into out (row_bytes(to, cols) each): dequantized to
// float and quantized again, one task per chunk of rows.
void convert_rows(const GgufTensor& t, GgmlType to, int64_t r0, int64_t r1, uint8_t* out, ThreadPool& pool) {
  const int64_t cols = t.dims[0];
  const size_t in_row = row_bytes(t.type, cols), out_row = row_bytes(to, cols);
  const DequantizeRowFn dequantize = dequantize_row_fn(t.type);
  const QuantizeRowFn quantize = quantize_row_fn(to);
  // Enough rows a task to amortize the hand-out (llama.cpp's chunks are 16k elements too).
  const int64_t rows_per_task = std::max<int64_t>(1, 16384 / cols);
  std::vector<std::vector<float>> scratch(pool.size(), std::vector<float>(size_t(cols)));
  pool.parallel_for((r1 - r0 + rows_per_task - 1) / rows_per_task, [&](int64_t task, int thread) {
    float* x = scratch[thread].data();
    const int64_t a = r0 + task * rows_per_task, b = std::min(r1, a + rows_per_task);
    for (int64_t r = a; r < b; ++r) {
      dequantize(t.data + size_t(r) * in_row, x, cols);
      quantize(x, out + size_t(r - r0) * out_row, cols);
    }
  });
}

}  // namespace

QuantizeSummary quantize_model(const QuantizeOptions& o, const QuantizeProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  if (o.mix == nullptr) throw Error("quantize: no type given (one of " + quant_mix_names() + ")");
  std::error_code ec;
  if (std::filesystem::exists(o.output, ec)) {
    if (std::filesystem::equivalent(o.input, o.output, ec)) throw Error(o.output + ": the output would overwrite the input");
    if (!o.force) throw Error(o.output + ": exists (use --force to replace it)");
  }
  const std::unique_ptr<GgufFile> in = GgufFile::open(o.input);

  std::vector<const GgufTensor*> tensors;
  for (const GgufTensor& t : in->tensors()) tensors.push_back(&t);
  std::stable_sort(tensors.begin(), tensors.end(), llama_order);
  TensorTypePlanner planner(*o.mix, o.tensors, *in, tensors);
  std::vector<GgmlType> types;
  std::vector<std::string> notes;
  for (const GgufTensor* t : tensors) {
    TensorTypePlanner::Choice c = planner.choose(*t);
    if (c.type != t->type) {
      if (!is_float_type(t->type) && !o.allow_requantize)
        throw Error(o.input + ": tensor '" + t->name + "' is already quantized (" + std::string(ggml_type_name(t->type)) +
                    "); requantizing loses quality, pass --allow-requantize to do it anyway");
      if (dequantize_row_fn(t->type) == nullptr)
        throw Error(o.input + ": tensor '" + t->name + "' has type " + std::string(ggml_type_name(t->type)) + ", which nagare cannot read");
      if (quantize_row_fn(c.type) == nullptr)
        throw Error("quantize: no quantizer for " + std::string(ggml_type_name(c.type)) + " (tensor '" + t->name + "')");
    }
    types.push_back(c.type);
    notes.push_back(std::move(c.note));
  }

  // Metadata as llama.cpp writes it: the input's, less the split keys, then the two it sets.
  GgufWriter writer;
  for (const std::string& key : in->metadata_order()) {
    if (key == "general.quantization_version" || key == "general.file_type" || key.starts_with("split.")) continue;
    writer.set(key, in->metadata().at(key));
  }
  writer.set_u32("general.quantization_version", kQuantizationVersion);
  writer.set_u32("general.file_type", uint32_t(o.mix->ftype));
  for (size_t i = 0; i < tensors.size(); ++i) writer.add_tensor_info(tensors[i]->name, types[i], tensors[i]->dims);

  OutputFile out(o.output);
  const std::vector<uint8_t> header = writer.header_bytes();
  out.write(header.data(), header.size());
  ThreadPool pool(o.threads);
  std::vector<uint8_t> slab;
  QuantizeSummary sum;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensor& t = *tensors[i];
    const GgmlType to = types[i];
    const int64_t cols = t.dims[0], rows = t.rows();
    const uint64_t out_bytes = uint64_t(rows) * row_bytes(to, cols);
    if (to == t.type) {
      out.write(t.data, t.nbytes);
    } else {
      const int64_t slab_rows = std::max<int64_t>(1, int64_t(kSlabBytes / row_bytes(to, cols)));
      slab.resize(size_t(std::min(rows, slab_rows)) * row_bytes(to, cols));
      for (int64_t r0 = 0; r0 < rows; r0 += slab_rows) {
        const int64_t r1 = std::min(rows, r0 + slab_rows);
        convert_rows(t, to, r0, r1, slab.data(), pool);
        out.write(slab.data(), size_t(r1 - r0) * row_bytes(to, cols));
      }
      sum.quantized++;
    }
    out.zeros(writer.padding_after(out_bytes));
    sum.bytes_in += t.nbytes;
    sum.bytes_out += out_bytes;
    if (progress) {
      char head[32];
      std::snprintf(head, sizeof head, "[%*zu/%zu] ", int(std::to_string(tensors.size()).size()), i + 1, tensors.size());
      std::string line = head + t.name + " " + shape(t) + " " + std::string(ggml_type_name(t.type));
      line += to == t.type ? ", copied, " + mib(out_bytes)
                           : " -> " + std::string(ggml_type_name(to)) + ", " + mib(t.nbytes) + " -> " + mib(out_bytes);
      if (!notes[i].empty()) line += " (fallback: " + notes[i] + ")";
      progress(line);
    }
  }
  out.commit();
  sum.tensors = int(tensors.size());
  sum.fallbacks = planner.fallbacks();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace nagare
