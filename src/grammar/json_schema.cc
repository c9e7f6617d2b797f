#include "grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "grammar/json_text.h"
#include "grammar/regex.h"

namespace nagare::grammar {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxSchemaDepth = 128;

const std::set<std::string>& annotations() {
  static const std::set<std::string> s{"title",    "description", "$schema",  "$id",       "default", "examples",
                                       "deprecated", "readOnly",  "writeOnly", "$comment", "strict"};
  return s;
}

const std::set<std::string>& supported() {
  static const std::set<std::string> s{
      "type",      "properties", "required",  "additionalProperties", "items",   "prefixItems",  "enum",
      "const",     "anyOf",      "oneOf",     "allOf",                "$ref",    "$defs",        "definitions",
      "format",    "minLength",  "maxLength", "minimum",              "maximum", "exclusiveMinimum",
      "exclusiveMaximum",        "minItems",  "maxItems",             "pattern"};
  return s;
}

std::string escape_pointer_token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string rule_name(const std::string& hint) {
  std::string out;
  for (char c : hint) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    out += ok ? c : '-';
  }
  return out.empty() ? "r" : out;
}

class SchemaCompiler {
 public:
  SchemaCompiler(const Json& root, const GrammarLimits& limits) : root_(root), limits_(limits), json_(ast_) {}

  GrammarAst run() {
    check_size();
    const uint32_t root = ast_.add_rule("root");
    ast_.root = root;
    Expr body = visit(root_, "", "root", 0);
    if (!(body.kind == Expr::Kind::kRef && body.rule == root)) ast_.bodies[root] = std::move(body);
    return std::move(ast_);
  }

 private:
  // Size and depth without recursion (a hostile document may nest far deeper than a stack).
  void check_size() const {
    size_t bytes = 0;
    std::vector<std::pair<const Json*, size_t>> todo{{&root_, 0}};
    while (!todo.empty()) {
      const auto [j, depth] = todo.back();
      todo.pop_back();
      if (depth > 4 * kMaxSchemaDepth) throw GrammarError("the schema is nested too deeply");
      if (j->is_string()) bytes += j->get_ref<const std::string&>().size() + 2;
      else bytes += 8;
      if (j->is_object()) {
        for (const auto& [key, value] : j->items()) {
          bytes += key.size() + 4;
          todo.push_back({&value, depth + 1});
        }
      } else if (j->is_array()) {
        for (const Json& value : *j) todo.push_back({&value, depth + 1});
      }
      if (bytes > limits_.max_source_bytes)
        throw GrammarError("the schema is past the limit of " + std::to_string(limits_.max_source_bytes) + " bytes");
    }
  }

  [[noreturn]] static void fail(const std::string& ptr, const std::string& what) {
    throw GrammarError(what + " at " + (ptr.empty() ? "/" : ptr));
  }

  uint32_t origin(const std::string& ptr) { return ast_.add_origin("JSON Schema at " + (ptr.empty() ? "/" : ptr)); }

  // A named rule for a schema node, so to_gbnf reads like the schema.
  Expr named(const std::string& hint, Expr body) {
    if (body.kind == Expr::Kind::kRef) return body;
    if (hint == "root" && !root_named_) {  // the top schema's own rule is "root" itself
      root_named_ = true;
      ast_.bodies[ast_.root] = std::move(body);
      return Expr::ref(ast_.root);
    }
    const uint32_t id = ast_.add_rule(rule_name(hint));
    ast_.bodies[id] = std::move(body);
    return Expr::ref(id);
  }

  static uint64_t count(const Json& v, const std::string& ptr, const char* key) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      fail(ptr + "/" + key, std::string("'") + key + "' must be a non-negative integer");
    return std::min<uint64_t>(v.get<uint64_t>(), 0xFFFFFFF);
  }

  Expr visit(const Json& s, const std::string& ptr, const std::string& hint, int depth) {
    if (depth > kMaxSchemaDepth) fail(ptr, "the schema is nested too deeply");
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail(ptr, "the schema 'false' allows no value");
      return json_.value();
    }
    if (!s.is_object()) fail(ptr, "a schema must be an object or a boolean");
    std::vector<std::string> constraints;
    for (const auto& [key, value] : s.items()) {
      if (annotations().count(key)) continue;
      if (!supported().count(key)) fail(ptr, "unsupported JSON Schema keyword '" + key + "'");
      if (key != "$defs" && key != "definitions") constraints.push_back(key);
    }
    auto alone = [&](const char* key) {
      for (const std::string& k : constraints)
        if (k != key) fail(ptr, std::string("'") + key + "' together with '" + k + "' is not supported");
    };
    if (s.contains("$ref")) {
      alone("$ref");
      return ref(s["$ref"], ptr + "/$ref", depth);
    }
    if (s.contains("const")) {
      alone("const");
      return Expr::literal(s["const"].dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    if (s.contains("enum")) {
      const Json& values = s["enum"];
      if (!values.is_array() || values.empty()) fail(ptr + "/enum", "'enum' must be a non-empty array");
      std::vector<Expr> alts;
      for (const Json& v : values) alts.push_back(Expr::literal(v.dump(-1, ' ', false, Json::error_handler_t::replace)));
      for (const std::string& k : constraints)
        if (k != "enum" && k != "type") fail(ptr, "'enum' together with '" + k + "' is not supported");
      return named(hint, Expr::alt(std::move(alts)).at(origin(ptr + "/enum")));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      alone(key);
      const Json& list = s[key];
      if (!list.is_array() || list.empty()) fail(ptr + "/" + key, std::string("'") + key + "' must be a non-empty array");
      std::vector<Expr> alts;
      for (size_t i = 0; i < list.size(); ++i)
        alts.push_back(visit(list[i], ptr + "/" + key + "/" + std::to_string(i), hint + "-" + std::to_string(i), depth + 1));
      return named(hint, Expr::alt(std::move(alts)));
    }
    if (s.contains("allOf")) {
      alone("allOf");
      return all_of(s["allOf"], ptr + "/allOf", hint, depth);
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      const Json& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const Json& x : t) {
          if (!x.is_string()) fail(ptr + "/type", "'type' must be a string or an array of strings");
          types.push_back(x.get<std::string>());
        }
      } else {
        fail(ptr + "/type", "'type' must be a string or an array of strings");
      }
    } else {
      // No type: the keywords tell, as a validator would apply them.
      auto has = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys)
          if (s.contains(k)) return true;
        return false;
      };
      if (has({"properties", "additionalProperties", "required"})) types.push_back("object");
      if (has({"items", "prefixItems", "minItems", "maxItems"})) types.push_back("array");
      if (has({"minLength", "maxLength", "pattern", "format"})) types.push_back("string");
      if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) types.push_back("number");
      if (types.empty()) return json_.value();
    }
    std::vector<Expr> alts;
    for (const std::string& t : types) alts.push_back(typed(s, t, ptr, types.size() > 1 ? hint + "-" + t : hint, depth));
    return named(hint, Expr::alt(std::move(alts)));
  }

  Expr typed(const Json& s, const std::string& type, const std::string& ptr, const std::string& hint, int depth) {
    if (type == "null") return json_.null();
    if (type == "boolean") return json_.boolean();
    if (type == "integer") return integer(s, ptr, hint);
    if (type == "number") {
      for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
        if (s.contains(k)) fail(ptr + "/" + k, std::string("'") + k + "' is supported for integers only, not 'number'");
      return json_.number();
    }
    if (type == "string") return string(s, ptr, hint);
    if (type == "array") return array(s, ptr, hint, depth);
    if (type == "object") return object(s, ptr, hint, depth);
    fail(ptr + "/type", "unknown type '" + type + "'");
  }

  Expr integer(const Json& s, const std::string& ptr, const std::string& hint) {
    std::optional<int64_t> lo, hi;
    auto bound = [&](const char* key, bool lower, bool exclusive) {
      if (!s.contains(key)) return;
      const Json& v = s[key];
      if (v.is_boolean()) return;  // draft 4's exclusiveMinimum: true, read with minimum below
      if (!v.is_number()) fail(ptr + "/" + key, std::string("'") + key + "' must be a number");
      const double x = v.get<double>();
      if (!std::isfinite(x) || std::fabs(x) > 9.0e18) fail(ptr + "/" + key, std::string("'") + key + "' is out of range");
      // Draft 4: {"minimum": 5, "exclusiveMinimum": true}.
      const char* flag = lower ? "exclusiveMinimum" : "exclusiveMaximum";
      if (!exclusive && s.contains(flag) && s[flag].is_boolean() && s[flag].get<bool>()) exclusive = true;
      int64_t b;
      if (v.is_number_integer()) {
        b = v.get<int64_t>();
        if (exclusive) b += lower ? 1 : -1;
      } else {
        b = static_cast<int64_t>(lower ? (exclusive ? std::floor(x) + 1 : std::ceil(x))
                                       : (exclusive ? std::ceil(x) - 1 : std::floor(x)));
      }
      auto& slot = lower ? lo : hi;
      if (!slot || (lower ? b > *slot : b < *slot)) slot = b;
    };
    bound("minimum", true, false);
    bound("exclusiveMinimum", true, true);
    bound("maximum", false, false);
    bound("exclusiveMaximum", false, true);
    if (!lo && !hi) return json_.integer();
    if (lo && hi && *lo > *hi) fail(ptr, "the integer range is empty");
    return named(hint, integer_range(lo, hi).at(origin(ptr)));
  }

  Expr string(const Json& s, const std::string& ptr, const std::string& hint) {
    const bool has_len = s.contains("minLength") || s.contains("maxLength");
    if (s.contains("pattern")) {
      if (has_len) fail(ptr, "'pattern' together with 'minLength' or 'maxLength' is not supported");
      if (s.contains("format")) fail(ptr, "'pattern' together with 'format' is not supported");
      if (!s["pattern"].is_string()) fail(ptr + "/pattern", "'pattern' must be a string");
      Expr content = parse_regex(s["pattern"].get<std::string>(), "JSON Schema at " + ptr + "/pattern");
      return named(hint, Expr::seq({Expr::literal("\""), json_encode(content), Expr::literal("\"")}).at(origin(ptr + "/pattern")));
    }
    if (s.contains("format")) {
      if (!s["format"].is_string()) fail(ptr + "/format", "'format' must be a string");
      if (auto pattern = format_pattern(s["format"].get<std::string>())) {
        if (has_len) fail(ptr, "'format' together with 'minLength' or 'maxLength' is not supported");
        return named(hint, Expr::seq({Expr::literal("\""), json_encode(*pattern), Expr::literal("\"")}));
      }
      // Another format would be an annotation in JSON Schema 2020-12, but a client that names
      // one expects it held: refused rather than silently not enforced.
      fail(ptr + "/format", "unsupported format '" + s["format"].get<std::string>() +
                                "' (supported: date, time, date-time, uuid, email)");
    }
    if (!has_len) return json_.string();
    const uint64_t min = s.contains("minLength") ? count(s["minLength"], ptr, "minLength") : 0;
    const uint64_t max = s.contains("maxLength") ? count(s["maxLength"], ptr, "maxLength") : kUnbounded;
    if (max < min) fail(ptr, "'maxLength' is below 'minLength'");
    return named(hint, Expr::seq({Expr::literal("\""),
                                  Expr::repeat(json_.chr(), static_cast<uint32_t>(min), static_cast<uint32_t>(max))
                                      .at(origin(ptr + (s.contains("maxLength") ? "/maxLength" : "/minLength"))),
                                  Expr::literal("\"")}));
  }

  Expr array(const Json& s, const std::string& ptr, const std::string& hint, int depth) {
    std::vector<Expr> prefix;
    const Json* prefix_items = s.contains("prefixItems") ? &s["prefixItems"] : nullptr;
    const Json* items = s.contains("items") ? &s["items"] : nullptr;
    std::string prefix_ptr = ptr + "/prefixItems";
    if (items && items->is_array()) {  // draft 4-2019 tuples: "items": [ ... ]
      if (prefix_items) fail(ptr + "/items", "'items' as an array together with 'prefixItems'");
      prefix_items = items, items = nullptr, prefix_ptr = ptr + "/items";
    }
    if (prefix_items) {
      if (!prefix_items->is_array()) fail(prefix_ptr, "'prefixItems' must be an array");
      for (size_t i = 0; i < prefix_items->size(); ++i)
        prefix.push_back(visit((*prefix_items)[i], prefix_ptr + "/" + std::to_string(i), hint + "-" + std::to_string(i), depth + 1));
    }
    // After a tuple, no more items unless "items" says which (llama.cpp reads tuples the same way).
    std::optional<Expr> rest;
    if (items) {
      if (!(items->is_boolean() && !items->get<bool>())) rest = visit(*items, ptr + "/items", hint + "-item", depth + 1);
    } else if (!prefix_items) {
      rest = json_.value();
    }
    const uint64_t min = s.contains("minItems") ? count(s["minItems"], ptr, "minItems") : 0;
    uint64_t max = s.contains("maxItems") ? count(s["maxItems"], ptr, "maxItems") : kUnbounded;
    if (!rest) max = std::min<uint64_t>(max, prefix.size());
    if (max < min) fail(ptr, "the array's item count bounds allow no array");
    const uint32_t o = origin(ptr + (s.contains("maxItems") ? "/maxItems" : ""));
    auto sep = [&] { return Expr::seq({json_.ws(), Expr::literal(","), json_.ws()}); };
    // Items from position k on, each after a comma; at least `min` in all, at most `max`.
    std::function<Expr(uint64_t)> from = [&](uint64_t k) -> Expr {
      if (k >= max) return Expr::empty();
      if (k >= prefix.size()) {
        const uint64_t lo = min > k ? min - k : 0;
        const uint64_t hi = max == kUnbounded ? kUnbounded : max - k;
        return Expr::repeat(Expr::seq({sep(), *rest}), static_cast<uint32_t>(lo), static_cast<uint32_t>(hi)).at(o);
      }
      Expr here = Expr::seq({sep(), prefix[k], from(k + 1)});
      return k < min ? here : Expr::optional(std::move(here));
    };
    Expr first;
    if (!prefix.empty()) {
      first = Expr::seq({prefix[0], from(1)});
    } else {
      const uint64_t hi = max == kUnbounded ? kUnbounded : max - 1;
      first = Expr::seq({*rest, Expr::repeat(Expr::seq({sep(), *rest}), static_cast<uint32_t>(min > 1 ? min - 1 : 0),
                                             static_cast<uint32_t>(hi)).at(o)});
    }
    Expr body = Expr::seq({first, json_.ws()});
    if (max == 0) return named(hint, Expr::seq({Expr::literal("["), json_.ws(), Expr::literal("]")}));
    return named(hint, Expr::seq({Expr::literal("["), json_.ws(), min > 0 ? std::move(body) : Expr::optional(std::move(body)),
                                  Expr::literal("]")}));
  }

  Expr object(const Json& s, const std::string& ptr, const std::string& hint, int depth) {
    std::vector<std::string> names;
    std::vector<Expr> values;
    if (s.contains("properties")) {
      const Json& props = s["properties"];
      if (!props.is_object()) fail(ptr + "/properties", "'properties' must be an object");
      for (const auto& [name, sub] : props.items()) {
        names.push_back(name);
        values.push_back(visit(sub, ptr + "/properties/" + escape_pointer_token(name), hint + "-" + name, depth + 1));
      }
    }
    std::set<std::string> required;
    if (s.contains("required")) {
      const Json& req = s["required"];
      if (!req.is_array()) fail(ptr + "/required", "'required' must be an array of strings");
      for (const Json& r : req) {
        if (!r.is_string()) fail(ptr + "/required", "'required' must be an array of strings");
        required.insert(r.get<std::string>());
      }
    }
    // Extra properties: closed when "properties" is given without "additionalProperties" (as
    // llama.cpp does; a model should not invent keys), open for a bare {"type": "object"}.
    std::optional<Expr> extra;
    if (s.contains("additionalProperties")) {
      const Json& ap = s["additionalProperties"];
      if (!(ap.is_boolean() && !ap.get<bool>())) extra = visit(ap, ptr + "/additionalProperties", hint + "-additional", depth + 1);
    } else if (!s.contains("properties")) {
      extra = json_.value();
    }
    for (const std::string& r : required) {
      if (std::find(names.begin(), names.end(), r) != names.end()) continue;
      if (!extra) fail(ptr + "/required", "required property '" + r + "' is not in 'properties'");
      names.push_back(r);
      values.push_back(*extra);
    }
    if (!extra && names.empty()) return named(hint, Expr::seq({Expr::literal("{"), json_.ws(), Expr::literal("}")}));

    auto sep = [&] { return Expr::seq({json_.ws(), Expr::literal(","), json_.ws()}); };
    std::vector<Expr> kv;
    for (size_t i = 0; i < names.size(); ++i) {
      Expr key = Expr::literal(Json(names[i]).dump(-1, ' ', false, Json::error_handler_t::replace));
      kv.push_back(named(hint + "-" + names[i] + "-kv", Expr::seq({key, json_.ws(), Expr::literal(":"), json_.ws(), values[i]})));
    }
    std::optional<Expr> extra_kv;
    if (extra) {
      for (const std::string& name : names)
        if (name.size() > 256)
          fail(ptr + "/properties", "a property name over 256 bytes together with additionalProperties is not supported");
      Expr key = names.empty() ? json_.string() : any_string_except(names);
      extra_kv = named(hint + "-additional-kv", Expr::seq({key, json_.ws(), Expr::literal(":"), json_.ws(), *extra}));
    }
    // In the schema's order, required ones mandatory, optional ones skippable. `some[i]`: the
    // members from i on after at least one was written (each after a comma); `none[i]`: from i
    // on before any was (at least one must come); nullopt where nothing can.
    const size_t n = names.size();
    std::vector<Expr> some(n + 1);
    if (extra_kv) some[n] = named(hint + "-additional-rest", Expr::repeat(Expr::seq({sep(), *extra_kv}), 0, kUnbounded));
    for (size_t i = n; i-- > 1;) {
      Expr member = Expr::seq({sep(), kv[i]});
      some[i] = named(hint + "-rest-" + std::to_string(i),
                      Expr::seq({required.count(names[i]) ? member : Expr::optional(member), some[i + 1]}));
    }
    // The first member written: any one up to and including the first required one.
    std::vector<Expr> firsts;
    bool any_required = false;
    for (size_t i = 0; i < n && !any_required; ++i) {
      firsts.push_back(Expr::seq({kv[i], some[i + 1]}));
      any_required = required.count(names[i]) > 0;
    }
    if (!any_required && extra_kv) firsts.push_back(Expr::seq({*extra_kv, some[n]}));
    Expr body = Expr::seq({Expr::alt(std::move(firsts)), json_.ws()});
    return named(hint, Expr::seq({Expr::literal("{"), json_.ws(), any_required ? std::move(body) : Expr::optional(std::move(body)),
                                  Expr::literal("}")}));
  }

  Expr all_of(const Json& list, const std::string& ptr, const std::string& hint, int depth) {
    if (!list.is_array() || list.empty()) fail(ptr, "'allOf' must be a non-empty array");
    if (list.size() == 1) return visit(list[0], ptr + "/0", hint, depth + 1);
    // Several members: objects only, merged (properties in order, required joined).
    Json merged = Json::object();
    merged["type"] = "object";
    merged["properties"] = Json::object();
    Json required = Json::array();
    bool closed = false;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string mptr = ptr + "/" + std::to_string(i);
      const Json* m = &list[i];
      for (int hops = 0; m->is_object() && m->contains("$ref"); ++hops) {
        if (hops > 16) fail(mptr, "'$ref' chain is too long");
        mptr = (*m)["$ref"].is_string() ? (*m)["$ref"].get<std::string>().substr(1) : mptr;
        m = &resolve((*m)["$ref"], mptr);
      }
      if (!m->is_object()) fail(mptr, "'allOf' with several members supports object schemas only");
      for (const auto& [key, value] : m->items()) {
        if (annotations().count(key) || key == "$defs" || key == "definitions") continue;
        if (key == "type") {
          if (value != "object") fail(mptr, "'allOf' with several members supports object schemas only");
        } else if (key == "properties") {
          for (const auto& [name, sub] : value.items()) {
            if (merged["properties"].contains(name) && merged["properties"][name] != sub)
              fail(mptr + "/properties", "'allOf' members define property '" + name + "' differently");
            merged["properties"][name] = sub;
          }
        } else if (key == "required") {
          for (const Json& r : value) required.push_back(r);
        } else if (key == "additionalProperties") {
          if (!(value.is_boolean() && !value.get<bool>()))
            fail(mptr + "/additionalProperties", "'allOf' members may only close additionalProperties (false)");
          closed = true;
        } else {
          fail(mptr, "'allOf' with several members supports only type, properties, required and additionalProperties, not '" + key + "'");
        }
      }
    }
    (void)closed;  // merged objects are closed: their members list every property
    merged["required"] = required;
    merged_.push_back(std::make_unique<Json>(std::move(merged)));
    return visit(*merged_.back(), ptr, hint, depth + 1);
  }

  const Json& resolve(const Json& ref, const std::string& ptr) {
    if (!ref.is_string()) fail(ptr, "'$ref' must be a string");
    const std::string target = ref.get<std::string>();
    if (target.empty() || target[0] != '#') fail(ptr, "only local '$ref' (\"#/...\") is supported, not '" + target + "'");
    std::string pointer;
    for (size_t i = 1; i < target.size(); ++i) {  // percent-decoding, as in a URI fragment
      if (target[i] == '%' && i + 2 < target.size() && std::isxdigit(static_cast<unsigned char>(target[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(target[i + 2]))) {
        pointer += static_cast<char>(std::stoi(target.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        pointer += target[i];
      }
    }
    try {
      const Json& found = root_.at(Json::json_pointer(pointer));
      return found;
    } catch (const std::exception&) {
      fail(ptr, "'$ref' '" + target + "' does not resolve in this schema");
    }
  }

  Expr ref(const Json& ref, const std::string& ptr, int depth) {
    const Json& target = resolve(ref, ptr);
    const std::string key = ref.get<std::string>();
    auto it = refs_.find(key);
    if (it != refs_.end()) return Expr::ref(it->second);
    // The rule exists before its body is compiled, so a recursive $ref refers back to it.
    std::string hint = key.substr(key.rfind('/') + 1);
    const uint32_t id = ast_.add_rule(rule_name(hint.empty() ? "ref" : hint));
    refs_.emplace(key, id);
    std::string target_ptr = key.substr(1);
    const std::string name = ast_.names[id];  // a copy: visiting adds rules, which moves the names
    Expr body = visit(target, target_ptr, name, depth + 1);
    ast_.bodies[id] = std::move(body);
    return Expr::ref(id);
  }

  const Json& root_;
  const GrammarLimits& limits_;
  GrammarAst ast_;
  JsonRules json_;
  std::map<std::string, uint32_t> refs_;
  std::vector<std::unique_ptr<Json>> merged_;
  bool root_named_ = false;
};

}  // namespace

GrammarAst json_schema_to_ast(const nlohmann::ordered_json& schema, const GrammarLimits& limits) {
  return SchemaCompiler(schema, limits).run();
}

GrammarAst any_json_object_ast() {
  GrammarAst ast;
  JsonRules json(ast);
  const uint32_t root = ast.add_rule("root");
  ast.root = root;
  // The object's own body rather than a call of "object": the top level is then one frame.
  ast.bodies[root] = ast.bodies[json.object().rule];
  return ast;
}

}  // namespace nagare::grammar
