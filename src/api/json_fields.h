// Typed reads of optional fields of a JSON request object. Absent or null gives nullopt; a wrong
// type or a value out of range throws ApiError (400, invalid_request_error) naming the field, so
// every endpoint reports bad input the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nagare {

using Json = nlohmann::ordered_json;

// A number (integer or not; not a bool or a string) in [lo, hi].
std::optional<double> get_number(const Json& obj, const char* key, double lo, double hi);
// An integer in [lo, hi]; a float with an integral value (2.0) counts as an integer.
std::optional<int64_t> get_integer(const Json& obj, const char* key, int64_t lo, int64_t hi);
std::optional<bool> get_bool(const Json& obj, const char* key);
std::optional<std::string> get_string(const Json& obj, const char* key);
// A JSON object (e.g. stream_options).
const Json* get_object(const Json& obj, const char* key);
// A string or a list of at most max_items strings (OpenAI's `stop`); a string gives one item.
std::optional<std::vector<std::string>> get_string_or_list(const Json& obj, const char* key,
                                                           size_t max_items);

// "a JSON number" etc. for messages about a value of the wrong type.
std::string json_type_name(const Json& v);

}  // namespace nagare
