#include "cli/kv_type_flags.h"

namespace nagare {

void KvTypeFlags::add(CLI::App* cmd) {
  const auto check = [](const std::string& name) {
    try {
      parse_kv_type(name);
      return std::string();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  };
  cmd->add_option("--cache-type-k", k, "KV cache type of keys: f16, q8_0 or q4_0 (half or a quarter of f16's memory)")
      ->check(check)
      ->capture_default_str();
  cmd->add_option("--cache-type-v", v, "KV cache type of values: f16, q8_0 or q4_0")->check(check)->capture_default_str();
}

KvTypes KvTypeFlags::types() const { return {parse_kv_type(k), parse_kv_type(v)}; }

}  // namespace nagare
