#include "engine/pooling.h"

#include <algorithm>
#include <cmath>

#include "gguf/gguf_file.h"

namespace nagare {

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::kNone: return "none";
    case Pooling::kMean: return "mean";
    case Pooling::kCls: return "cls";
    case Pooling::kLast: return "last";
  }
  return "mean";
}

std::optional<Pooling> parse_pooling(std::string_view name) {
  for (Pooling p : {Pooling::kNone, Pooling::kMean, Pooling::kCls, Pooling::kLast})
    if (name == pooling_name(p)) return p;
  return std::nullopt;
}

Pooling model_pooling(const GgufFile& file, const std::string& arch) {
  switch (file.get_int(arch + ".pooling_type", -1)) {
    case 0: return Pooling::kNone;
    case 2: return Pooling::kCls;
    case 3: return Pooling::kLast;
    default: return Pooling::kMean;  // 1; absent (-1); rank (4), which needs a classifier head
  }
}

void normalize_embedding(float* v, int64_t n, int32_t norm) {
  // Step for step as llama.cpp's common_embd_normalize: float products summed in double, the
  // reciprocal rounded to float, one float multiply per element.
  double sum = 0.0;
  if (norm < 0) return;
  if (norm == 0) {
    for (int64_t i = 0; i < n; ++i) sum = std::max(sum, double(std::abs(v[i])));
    sum /= 32760.0;  // int16's range
  } else if (norm == 2) {
    for (int64_t i = 0; i < n; ++i) sum += v[i] * v[i];
    sum = std::sqrt(sum);
  } else {
    for (int64_t i = 0; i < n; ++i) sum += std::pow(std::abs(v[i]), norm);
    sum = std::pow(sum, 1.0 / norm);
  }
  const float scale = sum > 0.0 ? float(1.0 / sum) : 0.0f;
  for (int64_t i = 0; i < n; ++i) v[i] *= scale;
}

Pooler::Pooler(Pooling pooling, int32_t n_prompt, int32_t n_embd)
    : pooling_(pooling), n_prompt_(n_prompt), n_embd_(n_embd) {
  if (pooling_ == Pooling::kMean) sum_.assign(size_t(n_embd_), 0.0);
  const int32_t rows = pooling_ == Pooling::kNone ? n_prompt_ : 1;
  rows_.assign(size_t(rows) * size_t(n_embd_), 0.0f);
}

bool Pooler::wants(int32_t pos) const {
  switch (pooling_) {
    case Pooling::kCls: return pos == 0;
    case Pooling::kLast: return pos == n_prompt_ - 1;
    default: return pos >= 0 && pos < n_prompt_;
  }
}

int32_t Pooler::reusable_prefix() const {
  // At least the last token is always computed: a sequence finishes in the step that does.
  const int32_t limit = pooling_ == Pooling::kLast ? n_prompt_ - 1 : n_done_;
  return std::min(limit, n_prompt_ - 1);
}

int64_t Pooler::take(int32_t first, int32_t count, const float* rows) {
  int64_t read = 0;
  for (int32_t pos = first; pos < first + count && pos < n_prompt_; ++pos) {
    if (!wants(pos)) continue;
    const float* row = rows + read++ * n_embd_;
    if (pos < n_done_) continue;  // pooled before a preemption already
    switch (pooling_) {
      case Pooling::kMean:
        for (int32_t i = 0; i < n_embd_; ++i) sum_[size_t(i)] += double(row[i]);
        break;
      case Pooling::kNone: std::copy(row, row + n_embd_, rows_.data() + size_t(pos) * size_t(n_embd_)); break;
      default: std::copy(row, row + n_embd_, rows_.data()); break;
    }
  }
  n_done_ = std::max(n_done_, std::min(first + count, n_prompt_));
  return read;
}

std::vector<float> Pooler::result(int32_t normalize) const {
  std::vector<float> out;
  if (pooling_ == Pooling::kMean) {
    out.resize(size_t(n_embd_));
    for (int32_t i = 0; i < n_embd_; ++i) out[size_t(i)] = float(sum_[size_t(i)] / double(n_prompt_));
  } else {
    out = rows_;
  }
  for (size_t r = 0; r + size_t(n_embd_) <= out.size() && n_embd_ > 0; r += size_t(n_embd_))
    normalize_embedding(out.data() + r, n_embd_, normalize);
  return out;
}

}  // namespace nagare
