#include "store/manifest.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "util/error.h"

namespace nagare {
namespace {

using json = nlohmann::json;
using Kind = ParameterSpec::Kind;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kInt: return "an integer";
    case Kind::kFloat: return "a number";
    case Kind::kBool: return "true or false";
    case Kind::kString: return "a string";
  }
  return "?";
}

bool json_has_kind(const json& v, Kind k) {
  switch (k) {
    case Kind::kInt: return v.is_number_integer();
    case Kind::kFloat: return v.is_number();
    case Kind::kBool: return v.is_boolean();
    case Kind::kString: return v.is_string();
  }
  return false;
}

std::optional<std::string> optional_string(const json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw Error(what + ": invalid manifest: \"" + key + "\" is not a string");
  return it->get<std::string>();
}

}  // namespace

const std::vector<ParameterSpec>& parameter_specs() {
  static const std::vector<ParameterSpec> kSpecs = {
      {"num_ctx", Kind::kInt, false},          {"num_predict", Kind::kInt, false},
      {"num_keep", Kind::kInt, false},         {"num_batch", Kind::kInt, false},
      {"num_thread", Kind::kInt, false},       {"num_gpu", Kind::kInt, false},
      {"main_gpu", Kind::kInt, false},         {"seed", Kind::kInt, false},
      {"top_k", Kind::kInt, false},            {"repeat_last_n", Kind::kInt, false},
      {"temperature", Kind::kFloat, false},    {"top_p", Kind::kFloat, false},
      {"min_p", Kind::kFloat, false},          {"typical_p", Kind::kFloat, false},
      {"repeat_penalty", Kind::kFloat, false}, {"presence_penalty", Kind::kFloat, false},
      {"frequency_penalty", Kind::kFloat, false}, {"use_mmap", Kind::kBool, false},
      {"stop", Kind::kString, true},
  };
  return kSpecs;
}

const ParameterSpec* find_parameter_spec(std::string_view name) {
  for (const auto& s : parameter_specs())
    if (name == s.name) return &s;
  return nullptr;
}

json parse_parameter_value(const ParameterSpec& spec, std::string_view text) {
  auto bad = [&]() -> Error {
    return Error(std::string("parameter ") + spec.name + " takes " + kind_name(spec.kind) + ", not '" +
                 std::string(text) + "'");
  };
  switch (spec.kind) {
    case Kind::kInt: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || p != text.data() + text.size()) throw bad();
      return v;
    }
    case Kind::kFloat: {
      std::string s(text);
      char* end = nullptr;
      double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) throw bad();
      return v;
    }
    case Kind::kBool: {
      std::string s(text);
      for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
      if (s == "true" || s == "1") return true;
      if (s == "false" || s == "0") return false;
      throw bad();
    }
    case Kind::kString:
      return std::string(text);
  }
  throw bad();
}

bool is_valid_digest(std::string_view d) {
  if (d.size() != 7 + 64 || d.substr(0, 7) != "sha256:") return false;
  for (char c : d.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string utc_now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Manifest::digest_hex() const { return weights_digest.size() > 7 ? weights_digest.substr(7) : ""; }

std::string Manifest::to_json() const {
  json j = json::object();
  j["schemaVersion"] = kSchemaVersion;
  j["weights"] = {{"digest", weights_digest}, {"size", weights_size}};
  if (!source.empty()) j["source"] = source;
  if (!created.empty()) j["created"] = created;
  if (template_text) j["template"] = *template_text;
  if (system) j["system"] = *system;
  if (license) j["license"] = *license;
  if (!parameters.empty()) j["parameters"] = parameters;
  if (!messages.empty()) {
    json m = json::array();
    for (const auto& msg : messages) m.push_back({{"role", msg.role}, {"content", msg.content}});
    j["messages"] = m;
  }
  return j.dump(2) + "\n";
}

Manifest Manifest::from_json(std::string_view text, const std::string& what) {
  auto fail = [&](const std::string& why) { return Error(what + ": invalid manifest: " + why); };
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw fail("not valid JSON");
  if (!j.is_object()) throw fail("not a JSON object");
  auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_integer()) throw fail("no \"schemaVersion\"");
  if (version->get<int64_t>() != kSchemaVersion)
    throw fail("schema version " + version->dump() + " (this nagare reads version " + std::to_string(kSchemaVersion) +
               "; a newer nagare wrote it?)");
  Manifest m;
  auto weights = j.find("weights");
  if (weights == j.end() || !weights->is_object()) throw fail("no \"weights\" object");
  auto digest = weights->find("digest");
  if (digest == weights->end() || !digest->is_string() || !is_valid_digest(digest->get<std::string>()))
    throw fail("\"weights.digest\" is not \"sha256:\" and 64 lower-case hex digits");
  m.weights_digest = digest->get<std::string>();
  auto size = weights->find("size");
  if (size == weights->end() || !size->is_number_unsigned()) throw fail("\"weights.size\" is not a byte count");
  m.weights_size = size->get<uint64_t>();
  m.template_text = optional_string(j, "template", what);
  m.system = optional_string(j, "system", what);
  m.license = optional_string(j, "license", what);
  m.source = optional_string(j, "source", what).value_or("");
  m.created = optional_string(j, "created", what).value_or("");
  if (auto p = j.find("parameters"); p != j.end() && !p->is_null()) {
    if (!p->is_object()) throw fail("\"parameters\" is not an object");
    for (const auto& [name, value] : p->items()) {
      const ParameterSpec* spec = find_parameter_spec(name);
      if (!spec) throw fail("unknown parameter '" + name + "'");
      bool ok = spec->repeated ? value.is_array() : json_has_kind(value, spec->kind);
      if (ok && spec->repeated)
        for (const auto& item : value) ok = ok && json_has_kind(item, spec->kind);
      if (!ok)
        throw fail("parameter '" + name + "' is not " + (spec->repeated ? "a list of strings" : kind_name(spec->kind)));
    }
    m.parameters = *p;
  }
  if (auto msgs = j.find("messages"); msgs != j.end() && !msgs->is_null()) {
    if (!msgs->is_array()) throw fail("\"messages\" is not an array");
    for (const auto& msg : *msgs) {
      if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string() || !msg.contains("content") ||
          !msg["content"].is_string())
        throw fail("a message is not {\"role\": string, \"content\": string}");
      m.messages.push_back({msg["role"].get<std::string>(), msg["content"].get<std::string>()});
    }
  }
  return m;
}

}  // namespace nagare
