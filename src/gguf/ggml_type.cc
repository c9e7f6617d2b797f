#include "gguf/ggml_type.h"

#include "util/ascii.h"

namespace nagare {

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (uint32_t id = 0; id < 64; ++id) {
    const auto info = ggml_type_info(id);
    if (info && ascii_iequals(info->name, name)) return GgmlType(id);
  }
  return std::nullopt;
}

}  // namespace nagare
