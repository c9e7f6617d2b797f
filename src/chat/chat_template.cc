// ChatTemplate: parse once, render many; see chat_template.h.
#include "chat/chat_template.h"

#include "chat/chat_error.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_parser.h"
#include "util/error.h"

namespace nagare {
namespace {

jinja::Value from_json(const nlohmann::ordered_json& j, int depth = 0) {
  if (depth > 256) throw ChatTemplateError(ChatErrorKind::Limit, "chat template input nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return jinja::Value::none();
    case nlohmann::ordered_json::value_t::boolean: return jinja::Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return jinja::Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return jinja::Value(static_cast<double>(u));
      return jinja::Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return jinja::Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return jinja::Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::ValueList items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(x, depth + 1));
      return jinja::Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto d = std::make_shared<jinja::DictObj>();
      d->items.reserve(j.size());
      for (const auto& [k, v] : j.items()) d->items.emplace_back(jinja::Value(k), from_json(v, depth + 1));
      return jinja::Value::dict(std::move(d));
    }
    default: return jinja::Value::none();
  }
}

std::string where(const std::string& src, size_t pos) {
  int line, col;
  jinja::line_col(src, pos, line, col);
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source, std::string bos_token, std::string eos_token)
    : source_(std::move(source)), bos_token_(std::move(bos_token)), eos_token_(std::move(eos_token)) {
  normalized_ = jinja::normalize_source(source_);
  try {
    body_ = std::make_unique<jinja::StmtList>(jinja::parse_template(normalized_));
  } catch (const jinja::SyntaxError& e) {
    throw ChatTemplateError(e.unsupported ? ChatErrorKind::Unsupported : ChatErrorKind::Syntax,
                            "chat template syntax error at " + where(normalized_, e.pos) + ": " + e.message);
  }
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  return render_json(list, add_generation_prompt);
}

std::string ChatTemplate::render_json(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                      const ChatRenderOptions& options) const {
  std::vector<std::pair<std::string, jinja::Value>> vars;
  vars.emplace_back("messages", from_json(messages));
  vars.emplace_back("tools", jinja::Value::none());
  vars.emplace_back("documents", jinja::Value::none());
  vars.emplace_back("add_generation_prompt", jinja::Value(add_generation_prompt));
  vars.emplace_back("bos_token", jinja::Value(bos_token_));
  vars.emplace_back("eos_token", jinja::Value(eos_token_));
  if (options.extra.is_object())
    for (const auto& [k, v] : options.extra.items()) vars.emplace_back(k, from_json(v));
  jinja::Interp interp(jinja::Limits{}, options.now);
  try {
    return interp.render(*body_, vars);
  } catch (const jinja::RenderError& e) {
    // raise_exception's message is the template author's words for the user: passed on as is.
    if (e.kind == ChatErrorKind::Raised) throw ChatTemplateError(e.kind, "chat template error: " + e.message);
    throw ChatTemplateError(e.kind, "chat template error at " + where(normalized_, e.pos) + ": " +
                                        std::string(chat_error_kind_name(e.kind)) + ": " + e.message);
  }
}

std::string ChatTemplate::default_name_for_architecture(std::string_view arch) {
  if (arch.substr(0, 5) == "gemma") return "gemma";
  return "chatml";
}

}  // namespace nagare
