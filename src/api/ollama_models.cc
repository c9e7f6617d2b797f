#include "api/ollama_models.h"

#include <cstdio>
#include <ctime>

#include "gguf/file_type.h"

namespace nagare {
namespace {

Json value_json(const GgufValue& v, bool verbose) {
  switch (v.type) {
    case GgufValueType::STRING: return v.as_string();
    case GgufValueType::BOOL: return v.as_bool();
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: return v.as_float();
    case GgufValueType::ARRAY: {
      const GgufArray& a = v.as_array();
      if (a.size() > 64 && !verbose) return nullptr;
      Json out = Json::array();
      for (size_t i = 0; i < a.size(); ++i) out.push_back(value_json(a[i], verbose));
      return out;
    }
    default: break;
  }
  if (v.type == GgufValueType::UINT64) return std::get<uint64_t>(v.v);
  return v.as_int();
}

}  // namespace

std::string parameter_size_label(int64_t n) {
  char buf[32];
  if (n >= 1'000'000'000) std::snprintf(buf, sizeof buf, "%.1fB", double(n) / 1e9);
  else if (n >= 1'000'000) std::snprintf(buf, sizeof buf, "%.0fM", double(n) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0fK", double(n) / 1e3);
  return buf;
}

Json ollama_details(const GgufFile& file) {
  const std::string arch = file.get_string("general.architecture", "");
  int64_t n_params = 0;
  for (const GgufTensor& t : file.tensors()) n_params += t.n_elements();
  std::string quant;
  if (const GgufValue* ft = file.find("general.file_type"); ft && ft->is_integer())
    if (auto name = llama_file_type_name(ft->as_int())) quant = std::string(*name);
  Json d;
  d["parent_model"] = "";
  d["format"] = "gguf";
  d["family"] = arch;
  d["families"] = Json::array({arch});
  d["parameter_size"] = parameter_size_label(n_params);
  d["quantization_level"] = quant.empty() ? "unknown" : quant;
  return d;
}

Json ollama_model_info(const GgufFile& file, bool verbose) {
  Json info = Json::object();
  for (const std::string& key : file.metadata_order()) info[key] = value_json(*file.find(key), verbose);
  int64_t n_params = 0;
  for (const GgufTensor& t : file.tensors()) n_params += t.n_elements();
  info["general.parameter_count"] = n_params;
  return info;
}

bool same_model_name(const std::string& a, const std::string& b) {
  auto base = [](const std::string& s) {
    const std::string tag = ":latest";
    return s.size() > tag.size() && s.compare(s.size() - tag.size(), tag.size(), tag) == 0 ? s.substr(0, s.size() - tag.size()) : s;
  };
  return base(a) == base(b);
}

std::string rfc3339(int64_t unix_seconds) {
  const std::time_t t = std::time_t(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace nagare
