#include "api/structured_output.h"

#include <list>
#include <mutex>
#include <string>
#include <utility>

#include "api/api_error.h"

namespace nagare {
namespace {

// Recently used grammars by source ("gbnf\n" or "schema\n" + text), most recent first.
class GrammarSourceCache {
 public:
  template <class Make>
  std::shared_ptr<const Grammar> get(const std::string& key, Make&& make) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->first == key) {
          entries_.splice(entries_.begin(), entries_, it);
          return it->second;
        }
    }
    std::shared_ptr<const Grammar> grammar = make();  // compiled outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace_front(key, grammar);
    if (entries_.size() > kCapacity) entries_.pop_back();
    return grammar;
  }

 private:
  static constexpr size_t kCapacity = 64;
  std::mutex mutex_;
  std::list<std::pair<std::string, std::shared_ptr<const Grammar>>> entries_;
};

GrammarSourceCache& cache() {
  static GrammarSourceCache c;
  return c;
}

std::shared_ptr<const Grammar> gbnf_grammar(const std::string& text, const std::string& param) {
  try {
    return cache().get("gbnf\n" + text, [&] { return Grammar::from_gbnf(text); });
  } catch (const GrammarError& e) {
    throw ApiError::invalid(std::string("invalid grammar: ") + e.what(), param);
  }
}

std::shared_ptr<const Grammar> any_json_object() {
  static const std::shared_ptr<const Grammar> g = Grammar::any_json_object();
  return g;
}

}  // namespace

std::shared_ptr<const Grammar> schema_grammar(const Json& schema, const std::string& param) {
  if (!schema.is_object() && !schema.is_boolean())
    throw ApiError::invalid("'" + param + "' must be a JSON Schema object, got " + json_type_name(schema), param);
  try {
    return cache().get("schema\n" + schema.dump(), [&] { return Grammar::from_json_schema(schema); });
  } catch (const GrammarError& e) {
    throw ApiError::invalid(std::string("invalid JSON Schema: ") + e.what(), param);
  }
}

std::shared_ptr<const Grammar> openai_output_grammar(const Json& body) {
  std::shared_ptr<const Grammar> grammar;
  const char* given = nullptr;  // the field that set it: only one may
  auto set = [&](const char* field, std::shared_ptr<const Grammar> g) {
    if (given)
      throw ApiError::invalid(std::string("give only one of '") + given + "' and '" + field + "'", field);
    given = field;
    grammar = std::move(g);
  };
  if (const Json* format = get_object(body, "response_format")) {
    auto type = get_string(*format, "type");
    if (!type) throw ApiError::invalid("'response_format.type' is required", "response_format.type");
    if (*type == "json_object") {
      // llama-server also takes a schema here.
      if (auto s = format->find("schema"); s != format->end() && !s->is_null())
        set("response_format", schema_grammar(*s, "response_format.schema"));
      else
        set("response_format", any_json_object());
    } else if (*type == "json_schema") {
      const Json* spec = get_object(*format, "json_schema");
      if (!spec) throw ApiError::invalid("'response_format.json_schema' is required", "response_format.json_schema");
      get_string(*spec, "name");    // checked for type; the name only labels the schema
      get_bool(*spec, "strict");    // nagare always holds the output to the schema
      if (auto s = spec->find("schema"); s != spec->end() && !s->is_null())
        set("response_format", schema_grammar(*s, "response_format.json_schema.schema"));
      else
        set("response_format", any_json_object());
    } else if (*type != "text") {
      throw ApiError::invalid("'response_format.type' must be 'text', 'json_object' or 'json_schema', got '" +
                                  *type + "'",
                              "response_format.type");
    }
  }
  if (auto text = get_string(body, "grammar"); text && !text->empty()) set("grammar", gbnf_grammar(*text, "grammar"));
  if (auto s = body.find("json_schema"); s != body.end() && !s->is_null())
    set("json_schema", schema_grammar(*s, "json_schema"));
  return grammar;
}

std::shared_ptr<const Grammar> ollama_format_grammar(const Json& format) {
  if (format.is_null()) return nullptr;
  if (format.is_string()) {
    const std::string f = format.get<std::string>();
    if (f.empty()) return nullptr;
    if (f == "json") return any_json_object();
    throw ApiError::invalid("'format' must be \"json\" or a JSON Schema object, got \"" + f + "\"", "format");
  }
  return schema_grammar(format, "format");
}

}  // namespace nagare
