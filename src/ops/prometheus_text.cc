#include "ops/prometheus_text.h"

#include <cmath>
#include <cstdio>

namespace nagare {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

void PrometheusWriter::family(const char* name, const char* type, const char* help) {
  out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void PrometheusWriter::sample(const std::string& name, const std::string& labels, double v) {
  out_ += name;
  if (!labels.empty()) out_ += "{" + labels + "}";
  out_ += " " + number(v) + "\n";
}

void PrometheusWriter::histogram(const std::string& name, const std::string& labels, const std::vector<double>& bounds,
                                 const std::vector<uint64_t>& buckets, double sum, uint64_t count) {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    sample(name + "_bucket", labels + sep + "le=\"" + number(bounds[i]) + "\"", double(cumulative));
  }
  sample(name + "_bucket", labels + sep + "le=\"+Inf\"", double(count));
  sample(name + "_sum", labels, sum);
  sample(name + "_count", labels, double(count));
}

std::string prometheus_label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + escape(value) + "\"";
}

}  // namespace nagare
