// API keys: who may call the server, under which name, how often and for which models. Keys come
// from --api-key (repeatable) and --api-keys FILE — TOML ([[keys]] tables) when the file ends in
// .toml, else JSON lines — and only their sha256 digests are kept in memory. A presented key is
// hashed and compared with every stored digest in constant time.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_record.h"  // canonical_model_name

namespace nagare {

struct ApiKey {
  std::array<uint8_t, 32> digest{};  // sha256 of the key
  std::string id;                    // "key-" + the digest's first 12 hex digits: names the key in logs
  std::string user;                  // who it belongs to (the audit log's user id)
  int64_t requests_per_minute = 0;   // 0: no limit
  int64_t tokens_per_minute = 0;     // prompt + completion tokens; 0: no limit
  std::vector<std::string> models;   // the models it may use, canonical names; empty: all
};

class KeyTable {
 public:
  // From --api-key values (user "default", no limits) and a keys file ("" for none). Throws
  // Error naming the file and line of the first problem: a malformed line, an unknown field, a
  // key without a user, a digest that is not 64 hex digits, a key given twice.
  static KeyTable load(const std::vector<std::string>& keys, const std::string& file);
  // The entries of one keys file (see load()).
  static std::vector<ApiKey> parse_file(const std::string& path);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  // The key `presented` is, or nullptr. Time does not depend on which key matched, or where.
  const ApiKey* find(std::string_view presented) const;
  // Whether `key` may use `model` (a name as a request gives it).
  static bool allows(const ApiKey& key, std::string_view model);

 private:
  std::vector<ApiKey> keys_;
};

}  // namespace nagare
