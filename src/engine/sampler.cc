// Sampler implementation. Every filter llama.cpp chains keeps a prefix of the candidates in
// (logit desc, id asc) order, so the kept set is always "a prefix of one total order"; the code
// sorts only as much of that prefix as it needs and sums in a fixed order, so a seed reproduces
// the same tokens whatever the standard library's sort does with equal elements.
#include "engine/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

#include "util/error.h"

namespace nagare {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// A kept set up to this size is sorted before the draw; larger ones are drawn in id order.
constexpr size_t kSortBeforeDraw = 4096;
// First chunk the top-p scan sorts when nothing is sorted yet; it doubles from there.
constexpr size_t kTopPFirstChunk = 64;

// NaN -> -inf (a masked token), +inf -> FLT_MAX (so max - max stays 0). One compare when finite.
inline float clean(float x) {
  if (x <= FLT_MAX) return x;
  return x > 0.0f ? FLT_MAX : kNegInf;
}

// Capped so a denormal temperature gives 0 * cap = 0 for the top token rather than 0 * inf = NaN.
inline float inverse_temperature(float t) { return std::min(1.0f / t, FLT_MAX); }

template <class T>
void fail_field(const char* field, T value, const char* rule) {
  std::ostringstream os;
  os << "invalid sampling parameter " << field << " = " << value << ": " << rule;
  throw Error(os.str());
}

}  // namespace

void SamplingParams::validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f)
    fail_field("temperature", temperature, "must be a number >= 0 (0 = greedy)");
  if (top_k < 0) fail_field("top_k", top_k, "must be >= 0 (0 = disabled)");
  if (!(top_p > 0.0f && top_p <= 1.0f))
    fail_field("top_p", top_p, "must be in (0, 1] (1 = disabled)");
  if (!(min_p >= 0.0f && min_p <= 1.0f))
    fail_field("min_p", min_p, "must be in [0, 1] (0 = disabled)");
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0.0f)
    fail_field("repetition_penalty", repetition_penalty, "must be a number > 0 (1 = disabled)");
  if (repeat_last_n < -1)
    fail_field("repeat_last_n", repeat_last_n, "must be >= -1 (-1 = whole history, 0 = disabled)");
  if (!std::isfinite(frequency_penalty))
    fail_field("frequency_penalty", frequency_penalty, "must be a finite number");
  if (!std::isfinite(presence_penalty))
    fail_field("presence_penalty", presence_penalty, "must be a finite number");
}

// ---- MT19937-64 (Matsumoto & Nishimura's 64-bit Mersenne Twister, the parameters of
// std::mt19937_64) ----

void Mt19937_64::seed(uint64_t seed) {
  mt_[0] = seed;
  for (int i = 1; i < kN; ++i)
    mt_[i] = 6364136223846793005ULL * (mt_[i - 1] ^ (mt_[i - 1] >> 62)) + static_cast<uint64_t>(i);
  index_ = kN;
}

uint64_t Mt19937_64::next() {
  constexpr int kM = 156;
  constexpr uint64_t kUpper = 0xFFFFFFFF80000000ULL, kLower = 0x7FFFFFFFULL;
  constexpr uint64_t kMatrix = 0xB5026F5AA96619E9ULL;
  if (index_ >= kN) {
    for (int i = 0; i < kN; ++i) {
      const uint64_t x = (mt_[i] & kUpper) | (mt_[(i + 1) % kN] & kLower);
      const uint64_t xa = (x >> 1) ^ ((x & 1) ? kMatrix : 0);
      mt_[i] = mt_[(i + kM) % kN] ^ xa;
    }
    index_ = 0;
  }
  uint64_t y = mt_[index_++];
  y ^= (y >> 29) & 0x5555555555555555ULL;
  y ^= (y << 17) & 0x71D67FFFEDA60000ULL;
  y ^= (y << 37) & 0xFFF7EEE000000000ULL;
  y ^= y >> 43;
  return y;
}

// ---- Sampler ----

Sampler::Sampler(const SamplingParams& params, int32_t vocab_size)
    : params_(params), n_vocab_(vocab_size) {
  params_.validate();
  if (vocab_size <= 0) throw Error("sampler: vocabulary size must be positive");
  cand_.resize(static_cast<size_t>(vocab_size));
  // The window grows only for repeat_last_n == -1 (whole history), amortized by vector growth.
  const size_t window = params_.repeat_last_n > 0 ? static_cast<size_t>(params_.repeat_last_n) : 1024;
  window_.reserve(window);
  overrides_.reserve(window);
  reset(params_.seed);
}

void Sampler::reset(uint64_t seed) {
  if (seed == kRandomSeed) {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
  }
  seed_ = seed;
  rng_.seed(seed);
}

// Splits the vocabulary at the penalized tokens: seg(a, b) gets each run [a, b) of untouched
// ids (read logits[] raw and clean()), one(id, logit) each penalized token, all in id order.
template <class Seg, class One>
void Sampler::scan_runs(Seg&& seg, One&& one) const {
  int32_t i = 0;
  for (const Cand& o : overrides_) {
    if (i < o.id) seg(i, o.id);
    one(o.id, o.logit);
    i = o.id + 1;
  }
  if (i < n_vocab_) seg(i, n_vocab_);
}

// Calls f(id, logit) for every token in id order, with penalties applied and NaN/inf cleaned.
template <class F>
void Sampler::scan(const float* logits, F&& f) const {
  scan_runs(
      [&](int32_t a, int32_t b) {
        for (int32_t i = a; i < b; ++i) f(i, clean(logits[i]));
      },
      f);
}

namespace {

// Tokens are visited in blocks whose maximum is taken first (a loop the compiler vectorizes):
// a block that cannot beat the current threshold costs no per-token work. NaN never wins the
// '>' so it cannot hide a larger value; +inf does win and is then cleaned per token.
constexpr int32_t kBlock = 16;

// GCC/Clang vector extension: compiles to max instructions on x86 and ARM alike.
typedef float Float4 __attribute__((vector_size(16)));

inline float block_max(const float* x) {
  Float4 v[4];
  std::memcpy(v, x, sizeof(v));  // unaligned load
  // The accumulator only ever takes a value that compared greater, so it never becomes NaN.
  Float4 a = {kNegInf, kNegInf, kNegInf, kNegInf};
  for (const Float4& x : v) a = x > a ? x : a;
  float m = kNegInf;
  for (int j = 0; j < 4; ++j) m = a[j] > m ? a[j] : m;
  return m;
}

}  // namespace

void Sampler::compute_penalties(const float* logits, std::span<const int32_t> history) {
  overrides_.clear();
  if (!params_.has_penalties()) return;
  size_t start = 0;
  if (params_.repeat_last_n > 0 && history.size() > static_cast<size_t>(params_.repeat_last_n))
    start = history.size() - static_cast<size_t>(params_.repeat_last_n);
  window_.clear();
  for (size_t i = start; i < history.size(); ++i) {
    const int32_t t = history[i];
    if (t >= 0 && t < n_vocab_) window_.push_back(t);  // an out-of-range id is not a token
  }
  std::sort(window_.begin(), window_.end());
  const float rep = params_.repetition_penalty;
  for (size_t i = 0; i < window_.size();) {
    size_t j = i;
    while (j < window_.size() && window_[j] == window_[i]) ++j;
    const int32_t id = window_[i];
    const int count = static_cast<int>(j - i);
    float l = clean(logits[id]);
    // Multiplying non-positive logits (instead of dividing) keeps the penalty a penalty for
    // them; same rule and float arithmetic as llama.cpp's penalties sampler.
    l = l <= 0.0f ? l * rep : l / rep;
    l -= static_cast<float>(count) * params_.frequency_penalty +
         static_cast<float>(count > 0) * params_.presence_penalty;
    overrides_.push_back({l, id});
    i = j;
  }
}

int32_t Sampler::argmax(const float* logits) const {
  int32_t best = 0;
  float best_l = kNegInf;
  // Strict '>' in id order keeps the lowest id on exact ties.
  auto one = [&](int32_t id, float l) {
    if (l > best_l) {
      best_l = l;
      best = id;
    }
  };
  scan_runs(
      [&](int32_t a, int32_t b) {
        int32_t i = a;
        for (; i + kBlock <= b; i += kBlock) {
          if (!(block_max(logits + i) > best_l)) continue;
          for (int32_t j = i; j < i + kBlock; ++j) one(j, clean(logits[j]));
        }
        for (; i < b; ++i) one(i, clean(logits[i]));
      },
      one);
  return best;
}

// Leaves the k best candidates sorted in cand_[0, k), in one pass with a heap whose root is the
// worst kept candidate; most tokens are rejected by one float compare.
void Sampler::select_top_k_heap(const float* logits, int32_t k) {
  Cand* heap = cand_.data();
  auto cmp = [](const Cand& a, const Cand& b) { return better(a, b); };
  int32_t filled = 0;
  float worst = kNegInf;
  auto offer = [&](int32_t id, float l) {
    if (filled < k) {
      heap[filled++] = {l, id};
      if (filled == k) {
        std::make_heap(heap, heap + k, cmp);
        worst = heap[0].logit;
      }
    } else if (l > worst) {  // ids arrive in increasing order, so a tie never displaces
      std::pop_heap(heap, heap + k, cmp);
      heap[k - 1] = {l, id};
      std::push_heap(heap, heap + k, cmp);
      worst = heap[0].logit;
    }
  };
  scan_runs(
      [&](int32_t a, int32_t b) {
        int32_t i = a;
        for (; i < b && filled < k; ++i) offer(i, clean(logits[i]));
        for (; i + kBlock <= b; i += kBlock) {
          if (!(block_max(logits + i) > worst)) continue;
          for (int32_t j = i; j < i + kBlock; ++j) offer(j, clean(logits[j]));
        }
        for (; i < b; ++i) offer(i, clean(logits[i]));
      },
      offer);
  std::sort_heap(heap, heap + k, cmp);
}

// Extends the sorted prefix to m elements. Invariant: every element of cand_[0, sorted_) is
// better than every element of cand_[sorted_, size_).
void Sampler::ensure_sorted(size_t m) {
  m = std::min(m, size_);
  if (m <= sorted_) return;
  auto cmp = [](const Cand& a, const Cand& b) { return better(a, b); };
  Cand* first = cand_.data() + sorted_;
  Cand* mid = cand_.data() + m;
  if (m < size_) std::nth_element(first, mid, cand_.data() + size_, cmp);
  std::sort(first, mid, cmp);
  sorted_ = m;
  id_order_ = false;
}

size_t Sampler::filter(const float* logits, std::span<const int32_t> history) {
  compute_penalties(logits, history);
  const size_t n = static_cast<size_t>(n_vocab_);
  const size_t k = (params_.top_k <= 0 || static_cast<size_t>(params_.top_k) >= n)
                       ? n
                       : static_cast<size_t>(params_.top_k);
  auto cmp = [](const Cand& a, const Cand& b) { return better(a, b); };

  // top_k. `boundary` is the worst member of an unsorted top-k set, for membership tests.
  bool has_boundary = false;
  Cand boundary{};
  if (k < n && k <= static_cast<size_t>(kHeapTopK)) {
    select_top_k_heap(logits, static_cast<int32_t>(k));
    size_ = sorted_ = k;
    max_logit_ = cand_[0].logit;
    id_order_ = false;
  } else {
    float mx = kNegInf;
    Cand* c = cand_.data();
    scan(logits, [&](int32_t id, float l) {
      c[id] = {l, id};
      mx = std::max(mx, l);
    });
    size_ = n;
    sorted_ = 0;
    max_logit_ = mx;
    id_order_ = true;
    if (k < n) {
      std::nth_element(c, c + (k - 1), c + n, cmp);
      id_order_ = false;
      size_ = k;
      boundary = c[k - 1];
      has_boundary = true;
    }
  }
  const float mx = max_logit_;
  if (mx == kNegInf) {  // every token masked: nothing to weigh, take the lowest id
    ensure_sorted(1);
    size_ = 1;
    return 1;
  }

  // top_p is normalized over the top-k set (as llama.cpp applies it before min_p), so its sum is
  // taken now, in a fixed order: sorted order, or id order over members.
  const bool use_top_p = params_.top_p < 1.0f;
  double top_k_sum = 0.0;
  if (use_top_p) {
    if (sorted_ >= size_) {
      for (size_t i = 0; i < size_; ++i) top_k_sum += std::exp(cand_[i].logit - mx);
    } else {
      scan(logits, [&](int32_t id, float l) {
        if (!has_boundary || !better(boundary, Cand{l, id})) top_k_sum += std::exp(l - mx);
      });
    }
  }

  // min_p keeps {logit >= max + log(min_p)}, a prefix of the same order. Applying it before the
  // top_p scan gives the same kept set (the shorter of the two prefixes) and shrinks the sort.
  if (params_.min_p > 0.0f) {
    const float thr = mx + std::log(params_.min_p);
    size_t j = 1;
    while (j < sorted_ && cand_[j].logit >= thr) ++j;
    if (sorted_ > 0 && j < sorted_) {
      size_ = sorted_ = j;
    } else {
      Cand* end = std::partition(cand_.data() + sorted_, cand_.data() + size_,
                                 [thr](const Cand& c) { return c.logit >= thr; });
      id_order_ = false;
      size_ = std::max<size_t>(1, static_cast<size_t>(end - cand_.data()));
    }
  }

  // top_p: the smallest sorted prefix whose mass reaches p (llama.cpp's rule, min_keep 1).
  if (use_top_p) {
    const double target = static_cast<double>(params_.top_p) * top_k_sum;
    double cum = 0.0;
    for (size_t i = 0; i < size_; ++i) {
      if (i == sorted_) ensure_sorted(std::max(kTopPFirstChunk, 2 * sorted_));
      cum += std::exp(cand_[i].logit - mx);
      if (cum >= target) {
        size_ = i + 1;
        break;
      }
    }
    sorted_ = std::min(sorted_, size_);
  }
  return size_;
}

// Draws from cand_[0, m) in its current order (sorted, or all tokens in id order); `mx` is the
// largest logit among them.
int32_t Sampler::draw_in_place(size_t m, float mx) {
  const float inv_t = inverse_temperature(params_.temperature);
  double total = 0.0;
  for (size_t i = 0; i < m; ++i) {
    const float w = std::exp((cand_[i].logit - mx) * inv_t);
    cand_[i].logit = w;  // the logit is not needed after this
    total += w;
  }
  const double u = rng_.uniform() * total;
  double cum = 0.0;
  size_t last = 0;
  for (size_t i = 0; i < m; ++i) {
    if (cand_[i].logit <= 0.0f) continue;
    cum += cand_[i].logit;
    last = i;
    if (u < cum) return cand_[i].id;
  }
  return cand_[last].id;  // only when rounding put u at the very top
}

// A large unsorted kept set is drawn over in id order instead of being sorted: membership is
// "not worse than the set's worst element", one compare per token.
int32_t Sampler::draw_by_id(const float* logits, size_t m) {
  const bool has_boundary = m < static_cast<size_t>(n_vocab_);
  Cand boundary{};
  if (has_boundary) {
    boundary = cand_[0];
    for (size_t i = 1; i < m; ++i)
      if (better(boundary, cand_[i])) boundary = cand_[i];
  }
  const float inv_t = inverse_temperature(params_.temperature);
  const float mx = max_logit_;
  auto member = [&](int32_t id, float l) { return !has_boundary || !better(boundary, Cand{l, id}); };
  double total = 0.0;
  scan(logits, [&](int32_t id, float l) {
    if (member(id, l)) total += std::exp((l - mx) * inv_t);
  });
  const double u = rng_.uniform() * total;
  double cum = 0.0;
  int32_t result = -1, last = cand_[0].id;
  scan(logits, [&](int32_t id, float l) {
    if (result >= 0 || !member(id, l)) return;
    const float w = std::exp((l - mx) * inv_t);
    if (w <= 0.0f) return;
    cum += w;
    last = id;
    if (u < cum) result = id;
  });
  return result >= 0 ? result : last;
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history) {
  if (params_.greedy()) {
    compute_penalties(logits, history);
    return argmax(logits);
  }
  const size_t m = filter(logits, history);
  if (m == 1) return cand_[0].id;
  if (id_order_) return draw_in_place(m, max_logit_);  // nothing filtered: id order as filled
  if (sorted_ < m && m <= kSortBeforeDraw) ensure_sorted(m);
  return sorted_ >= m ? draw_in_place(m, cand_[0].logit) : draw_by_id(logits, m);
}

std::vector<TokenProb> Sampler::candidates(const float* logits, std::span<const int32_t> history) {
  std::vector<TokenProb> out;
  if (params_.greedy()) {
    compute_penalties(logits, history);
    out.push_back({argmax(logits), 1.0f});
    return out;
  }
  const size_t m = filter(logits, history);
  ensure_sorted(m);
  const float inv_t = inverse_temperature(params_.temperature);
  const float mx = cand_[0].logit;
  double total = 0.0;
  for (size_t i = 0; i < m; ++i) total += std::exp((cand_[i].logit - mx) * inv_t);
  out.reserve(m);
  for (size_t i = 0; i < m; ++i)
    out.push_back({cand_[i].id,
                   static_cast<float>(std::exp((cand_[i].logit - mx) * inv_t) / total)});
  return out;
}

float Sampler::logprobs(const float* logits, int32_t token, std::span<TokenLogprob> top) {
  overrides_.clear();  // raw logits: no penalties
  float mx = kNegInf;
  for (int32_t i = 0; i < n_vocab_; ++i) mx = std::max(mx, clean(logits[i]));
  const size_t n_top = std::min(top.size(), static_cast<size_t>(n_vocab_));
  for (size_t i = n_top; i < top.size(); ++i) top[i] = {-1, kNegInf};
  if (mx == kNegInf) {  // everything masked: no distribution to report
    for (size_t i = 0; i < n_top; ++i) top[i] = {static_cast<int32_t>(i), kNegInf};
    return kNegInf;
  }
  double sum = 0.0;
  for (int32_t i = 0; i < n_vocab_; ++i) sum += std::exp(clean(logits[i]) - mx);
  const double lse = static_cast<double>(mx) + std::log(sum);
  if (n_top > 0) {
    select_top_k_heap(logits, static_cast<int32_t>(n_top));
    for (size_t i = 0; i < n_top; ++i)
      top[i] = {cand_[i].id, static_cast<float>(static_cast<double>(cand_[i].logit) - lse)};
  }
  if (token < 0 || token >= n_vocab_) return kNegInf;
  return static_cast<float>(static_cast<double>(clean(logits[token])) - lse);
}

}  // namespace nagare
