#include "api/embeddings_request.h"

#include <algorithm>

#include "api/api_error.h"
#include "api/ollama_request.h"

namespace nagare {
namespace {

std::vector<int32_t> token_list(const Json& list) {
  std::vector<int32_t> out;
  for (const Json& t : list) {
    if (!t.is_number_integer() && !t.is_number_unsigned())
      throw ApiError::invalid("'input' token ids must be integers, got " + json_type_name(t), "input");
    const int64_t id = t.is_number_unsigned() ? int64_t(std::min<uint64_t>(t.get<uint64_t>(), INT64_MAX)) : t.get<int64_t>();
    if (id < 0 || id > INT32_MAX) throw ApiError::invalid("'input' holds an invalid token id " + std::to_string(id), "input");
    out.push_back(int32_t(id));
  }
  if (out.empty()) throw ApiError::invalid("'input' must not hold an empty list of token ids", "input");
  return out;
}

void check_count(size_t n) {
  if (n > kMaxEmbeddingInputs)
    throw ApiError::invalid("'input' may hold at most " + std::to_string(kMaxEmbeddingInputs) + " items, got " + std::to_string(n),
                            "input");
}

void parse_dimensions(const Json& body, EmbeddingsRequest& r) {
  r.dimensions = get_integer(body, "dimensions", 1, INT32_MAX);
}

void parse_ollama_common(const Json& body, EmbeddingsRequest& r) {
  auto model = get_string(body, "model");
  if (!model || model->empty()) throw ApiError::invalid("model is required", "model");
  r.model = *model;
  get_object(body, "options");  // checked for type; no option changes an embedding
  if (auto it = body.find("keep_alive"); it != body.end() && !it->is_null()) r.keep_alive = parse_keep_alive(*it);
}

}  // namespace

EmbeddingsRequest parse_openai_embeddings(const Json& body) {
  EmbeddingsRequest r;
  r.api = EmbeddingsApi::kOpenAi;
  if (auto model = get_string(body, "model")) r.model = *model;
  get_string(body, "user");  // accepted for compatibility, checked for type, otherwise ignored
  if (auto f = get_string(body, "encoding_format")) {
    if (*f != "float" && *f != "base64")
      throw ApiError::invalid("'encoding_format' must be \"float\" or \"base64\", got \"" + *f + "\"", "encoding_format");
    r.base64 = *f == "base64";
  }
  parse_dimensions(body, r);

  auto it = body.find("input");
  if (it == body.end() || it->is_null()) throw ApiError::invalid("'input' is required", "input");
  const char* kShape = "'input' must be a string, a list of strings, a list of token ids or a list of lists of token ids";
  if (it->is_string()) {
    if (it->get_ref<const std::string&>().empty()) throw ApiError::invalid("'input' must not be an empty string", "input");
    r.inputs.push_back({it->get<std::string>(), {}, false});
    return r;
  }
  if (!it->is_array()) throw ApiError::invalid(std::string(kShape) + ", got " + json_type_name(*it), "input");
  if (it->empty()) throw ApiError::invalid("'input' must not be an empty list", "input");
  const Json& first = it->front();
  if (first.is_number()) {
    r.inputs.push_back({"", token_list(*it), true});
    return r;
  }
  check_count(it->size());
  for (const Json& item : *it) {
    if (first.is_string() && item.is_string()) {
      if (item.get_ref<const std::string&>().empty())
        throw ApiError::invalid("'input' must not hold an empty string", "input");
      r.inputs.push_back({item.get<std::string>(), {}, false});
    } else if (first.is_array() && item.is_array()) {
      r.inputs.push_back({"", token_list(item), true});
    } else {
      throw ApiError::invalid(kShape, "input");
    }
  }
  return r;
}

EmbeddingsRequest parse_ollama_embed(const Json& body) {
  EmbeddingsRequest r;
  r.api = EmbeddingsApi::kOllamaEmbed;
  parse_ollama_common(body, r);
  r.truncate = get_bool(body, "truncate").value_or(true);
  parse_dimensions(body, r);
  auto it = body.find("input");
  if (it == body.end() || it->is_null()) return r;
  if (it->is_string()) {
    if (!it->get_ref<const std::string&>().empty()) r.inputs.push_back({it->get<std::string>(), {}, false});
    return r;
  }
  if (!it->is_array()) throw ApiError::invalid("invalid input type: 'input' must be a string or a list of strings", "input");
  check_count(it->size());
  for (const Json& item : *it) {
    if (!item.is_string()) throw ApiError::invalid("invalid input type: 'input' must be a string or a list of strings", "input");
    r.inputs.push_back({item.get<std::string>(), {}, false});
  }
  return r;
}

EmbeddingsRequest parse_ollama_embeddings(const Json& body) {
  EmbeddingsRequest r;
  r.api = EmbeddingsApi::kOllamaLegacy;
  parse_ollama_common(body, r);
  if (auto prompt = get_string(body, "prompt"); prompt && !prompt->empty()) r.inputs.push_back({*prompt, {}, false});
  return r;
}

}  // namespace nagare
