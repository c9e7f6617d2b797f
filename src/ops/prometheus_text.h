// Prometheus' text exposition format (0.0.4), one family at a time: the server's /metrics and
// the router's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nagare {

class PrometheusWriter {
 public:
  void family(const char* name, const char* type, const char* help);
  // `labels`: "a=\"x\",b=\"y\"" (prometheus_label joined by commas), or "".
  void sample(const std::string& name, const std::string& labels, double v);
  // A histogram from per-bucket (not cumulative) counts: buckets[i] for bounds[i], the last one
  // above every bound.
  void histogram(const std::string& name, const std::string& labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& buckets, double sum, uint64_t count);
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// key="value", the value escaped.
std::string prometheus_label(const char* key, const std::string& value);

}  // namespace nagare
