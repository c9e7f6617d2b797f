// Random ids of API objects: "chatcmpl-..." / "cmpl-..." responses, "call_..." tool calls.
#pragma once

#include <string>
#include <string_view>

namespace nagare {

// `prefix` and 24 random alphanumerics.
std::string make_response_id(std::string_view prefix);

}  // namespace nagare
