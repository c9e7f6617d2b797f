#include "ops/api_keys.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

std::array<uint8_t, 32> digest_of(std::string_view key) {
  Sha256 h;
  h.update(key);
  return h.digest();
}

bool parse_hex_digest(std::string_view hex, std::array<uint8_t, 32>& out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

std::string id_of(const std::array<uint8_t, 32>& d) {
  static const char* hex = "0123456789abcdef";
  std::string id = "key-";
  for (int i = 0; i < 6; ++i) {
    id += hex[d[i] >> 4];
    id += hex[d[i] & 15];
  }
  return id;
}

// One entry's fields, whatever the file format: key or sha256, user, the two limits, models.
struct Fields {
  std::optional<std::string> key, sha256, user;
  std::optional<int64_t> rpm, tpm;
  std::optional<std::vector<std::string>> models;
};

ApiKey make_key(const Fields& f) {
  if (f.key.has_value() == f.sha256.has_value()) throw Error("give either 'key' or 'sha256' (not both)");
  ApiKey k;
  if (f.key) {
    if (f.key->empty()) throw Error("'key' is empty");
    k.digest = digest_of(*f.key);
  } else if (!parse_hex_digest(*f.sha256, k.digest)) {
    throw Error("'sha256' must be 64 hex digits (the sha256 of the key)");
  }
  if (!f.user || f.user->empty()) throw Error("'user' is required");
  k.user = *f.user;
  k.id = id_of(k.digest);
  if (f.rpm && *f.rpm < 0) throw Error("'requests_per_minute' must not be negative");
  if (f.tpm && *f.tpm < 0) throw Error("'tokens_per_minute' must not be negative");
  k.requests_per_minute = f.rpm.value_or(0);
  k.tokens_per_minute = f.tpm.value_or(0);
  if (f.models)
    for (const std::string& m : *f.models) {
      if (m.empty()) throw Error("'models' holds an empty name");
      k.models.push_back(canonical_model_name(m));
    }
  return k;
}

constexpr const char* kFields = "key, sha256, user, requests_per_minute, tokens_per_minute, models";

Fields json_fields(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("each line must be a JSON object");
  Fields f;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    auto str = [&]() {
      if (!v.is_string()) throw Error("'" + k + "' must be a string");
      return v.get<std::string>();
    };
    auto num = [&]() {
      if (!v.is_number_integer()) throw Error("'" + k + "' must be an integer");
      return v.get<int64_t>();
    };
    if (k == "key") f.key = str();
    else if (k == "sha256") f.sha256 = str();
    else if (k == "user") f.user = str();
    else if (k == "requests_per_minute") f.rpm = num();
    else if (k == "tokens_per_minute") f.tpm = num();
    else if (k == "models") {
      if (!v.is_array()) throw Error("'models' must be a list of model names");
      f.models.emplace();
      for (const auto& m : v) {
        if (!m.is_string()) throw Error("'models' must be a list of model names");
        f.models->push_back(m.get<std::string>());
      }
    } else {
      throw Error("unknown field '" + k + "' (known: " + kFields + ")");
    }
  }
  return f;
}

// A TOML value as JSON, so both file formats share one field reader (json_fields).
nlohmann::json to_json(const toml::node& n) {
  if (auto v = n.value_exact<std::string>()) return *v;
  if (auto v = n.value_exact<int64_t>()) return *v;
  if (auto v = n.value_exact<double>()) return *v;
  if (auto v = n.value_exact<bool>()) return *v;
  if (const toml::array* a = n.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const toml::node& item : *a) out.push_back(to_json(item));
    return out;
  }
  if (const toml::table* t = n.as_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : *t) out[std::string(k.str())] = to_json(v);
    return out;
  }
  return nullptr;  // dates and times: no field takes one, so the reader names the field
}

std::vector<ApiKey> parse_toml(const std::string& path, const std::string& text) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw Error(path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  std::vector<ApiKey> out;
  for (const auto& [key, node] : root)
    if (key.str() != "keys")
      throw Error(path + ":" + std::to_string(node.source().begin.line) + ": unknown table '" + std::string(key.str()) +
                  "' (a keys file holds [[keys]] entries)");
  const toml::array* keys = root["keys"].as_array();
  if (!keys && root.contains("keys"))
    throw Error(path + ":" + std::to_string(root["keys"].node()->source().begin.line) + ": 'keys' must be [[keys]] tables");
  if (!keys) return out;
  for (const toml::node& n : *keys) {
    const toml::table* t = n.as_table();
    const int line = int(n.source().begin.line);
    try {
      if (!t) throw Error("each [[keys]] entry must be a table");
      out.push_back(make_key(json_fields(to_json(*t))));
    } catch (const Error& e) {
      throw Error(path + ":" + std::to_string(line) + ": " + e.what());
    }
  }
  return out;
}

std::vector<ApiKey> parse_json_lines(const std::string& path, const std::string& text) {
  std::vector<ApiKey> out;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) throw Error("not valid JSON");
      out.push_back(make_key(json_fields(j)));
    } catch (const Error& e) {
      throw Error(path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  return out;
}

}  // namespace

std::vector<ApiKey> KeyTable::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the keys file");
  std::stringstream buf;
  buf << in.rdbuf();
  const bool toml = path.size() >= 5 && path.compare(path.size() - 5, 5, ".toml") == 0;
  return toml ? parse_toml(path, buf.str()) : parse_json_lines(path, buf.str());
}

KeyTable KeyTable::load(const std::vector<std::string>& keys, const std::string& file) {
  KeyTable t;
  for (const std::string& k : keys) {
    if (k.empty()) throw Error("--api-key: the key is empty");
    Fields f;
    f.key = k;
    f.user = "default";
    t.keys_.push_back(make_key(f));
  }
  if (!file.empty())
    for (ApiKey& k : parse_file(file)) t.keys_.push_back(std::move(k));
  std::set<std::array<uint8_t, 32>> seen;
  for (const ApiKey& k : t.keys_)
    if (!seen.insert(k.digest).second)
      throw Error((file.empty() ? std::string("--api-key") : file) + ": the key " + k.id + " (user " + k.user +
                  ") is given twice");
  return t;
}

const ApiKey* KeyTable::find(std::string_view presented) const {
  const std::array<uint8_t, 32> d = digest_of(presented);
  const ApiKey* match = nullptr;
  for (const ApiKey& k : keys_) {
    uint8_t diff = 0;
    for (size_t i = 0; i < d.size(); ++i) diff |= uint8_t(d[i] ^ k.digest[i]);
    // No branch on the secret: every key is compared in full either way.
    const uintptr_t mask = uintptr_t(0) - uintptr_t(diff == 0);
    match = reinterpret_cast<const ApiKey*>((reinterpret_cast<uintptr_t>(&k) & mask) |
                                            (reinterpret_cast<uintptr_t>(match) & ~mask));
  }
  return match;
}

bool KeyTable::allows(const ApiKey& key, std::string_view model) {
  if (key.models.empty()) return true;
  const std::string c = canonical_model_name(model);
  for (const std::string& m : key.models)
    if (m == c) return true;
  return false;
}

}  // namespace nagare
