// Golden tests: nagare's chat template renders must equal jinja2's (as HF configures it) byte for
// byte, and where jinja2 raises, nagare must fail with the same category of error (undefined,
// type, syntax, sandbox, ...), not just any error. Goldens come from scripts/golden/chat_templates.py.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "chat/chat_error.h"
#include "chat/chat_template.h"
#include "util/error.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

std::string golden_path(const std::string& rel) { return std::string(NAGARE_SOURCE_DIR) + "/tests/golden/chat/" + rel; }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Json load(const std::string& rel) { return Json::parse(read_file(golden_path(rel))); }

std::tm parse_now(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  mktime(&tm);  // fills tm_wday / tm_yday for %a, %j
  return tm;
}

std::string first_difference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + "\n  want: " + Json(want.substr(from, 100)).dump() +
         "\n  got:  " + Json(got.substr(from, 100)).dump();
}

// The category nagare must report where jinja2 raised `python_class` (the golden's error_type);
// nullopt for a class this test does not know yet: a new golden needs a decision here.
std::optional<ChatErrorKind> kind_for(const std::string& python_class) {
  static const std::map<std::string, ChatErrorKind> kinds = {
      {"TemplateSyntaxError", ChatErrorKind::Syntax},
      {"TemplateAssertionError", ChatErrorKind::Syntax},  // unknown filter / test, a TemplateSyntaxError
      {"SyntaxError", ChatErrorKind::Syntax},             // Python's compiler: 'break' outside loop
      {"UndefinedError", ChatErrorKind::Undefined},
      {"TypeError", ChatErrorKind::Type},
      {"ValueError", ChatErrorKind::Value},
      {"IndexError", ChatErrorKind::Index},
      {"KeyError", ChatErrorKind::Key},
      {"AttributeError", ChatErrorKind::Attribute},
      {"ZeroDivisionError", ChatErrorKind::ZeroDivision},
      {"OverflowError", ChatErrorKind::Overflow},
      {"SecurityError", ChatErrorKind::Security},
      {"TemplateRuntimeError", ChatErrorKind::Runtime},
      {"FilterArgumentError", ChatErrorKind::Runtime},  // a TemplateRuntimeError
      {"TemplateError", ChatErrorKind::Raised},         // only raise_exception raises the base class
      {"RecursionError", ChatErrorKind::Limit},
  };
  const auto it = kinds.find(python_class);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

// Empty when nagare's error `e` is what jinja2 raised (class `want_class`, message `want_message`).
std::string check_error(const Error& e, const std::string& want_class, const std::string& want_message) {
  const auto want = kind_for(want_class);
  if (!want) return "jinja2 raised " + want_class + ", which chat_golden_test.cc does not map to a ChatErrorKind";
  const auto* te = dynamic_cast<const ChatTemplateError*>(&e);
  if (te == nullptr) return std::string("threw an Error without a category: ") + e.what();
  if (te->kind() != *want)
    return std::string("raised ") + std::string(chat_error_kind_name(te->kind())) + ", jinja2 " + want_class + " (" +
           want_message + "); nagare's message: " + e.what();
  if (*want == ChatErrorKind::Raised && std::string(e.what()).find(want_message) == std::string::npos)
    return std::string("raised the wrong message: ") + e.what() + " (want " + want_message + ")";
  return {};
}

// Checks one case; returns an empty string when it matches, else a description.
std::string check_case(const ChatTemplate& t, const Json& messages, bool agp, const ChatRenderOptions& opts,
                       const Json& c) {
  std::string got;
  try {
    got = t.render_json(messages, agp, opts);
  } catch (const Error& e) {
    if (c.contains("error")) return check_error(e, c["error_type"].get<std::string>(), c["error"].get<std::string>());
    return std::string("threw ") + e.what();
  }
  if (c.contains("error")) return "rendered, but jinja2 fails with " + c["error_type"].get<std::string>() + ": " + c["error"].get<std::string>();
  const std::string want = c["output"].get<std::string>();
  if (got != want) return first_difference(want, got);
  return {};
}

TEST(ChatGolden, RendersMatchJinja2) {
  const Json g = load("renders.json");
  ChatRenderOptions base;
  base.now = parse_now(g["now"].get<std::string>());
  std::map<std::string, std::unique_ptr<ChatTemplate>> templates;
  for (const auto& [name, t] : g["templates"].items()) {
    const std::string source = t.contains("file") ? read_file(golden_path(t["file"].get<std::string>()))
                                                  : t["source"].get<std::string>();
    // A model without a template gets the built-in named for its architecture.
    if (t.contains("architecture") && !t["builtin"].is_null()) {
      EXPECT_EQ(ChatTemplate::default_name_for_architecture(t["architecture"].get<std::string>()),
                t["builtin"].get<std::string>())
          << name;
    }
    if (!t["builtin"].is_null()) {
      const auto builtin = ChatTemplate::builtin_source(t["builtin"].get<std::string>());
      ASSERT_TRUE(builtin.has_value()) << name;
      EXPECT_EQ(*builtin, source) << "built-in " << name << " differs from the golden script's copy";
    }
    ASSERT_NO_THROW(templates[name] = std::make_unique<ChatTemplate>(source, t["bos_token"].get<std::string>(),
                                                                     t["eos_token"].get<std::string>()))
        << name;
  }
  int failures = 0, checked = 0;
  for (const auto& c : g["cases"]) {
    const std::string name = c["template"].get<std::string>();
    ChatRenderOptions opts = base;
    opts.extra = g["extras"][c["extra"].get<size_t>()];
    const Json& messages = g["conversations"][c["conversation"].get<size_t>()];
    const std::string problem = check_case(*templates.at(name), messages, c["add_generation_prompt"].get<bool>(), opts, c);
    ++checked;
    if (!problem.empty() && ++failures <= 15)
      ADD_FAILURE() << name << " conversation " << c["conversation"] << " extra " << c["extra"]
                    << " agp=" << c["add_generation_prompt"] << ": " << problem;
  }
  EXPECT_EQ(failures, 0) << "of " << checked << " cases";
  EXPECT_GT(checked, 1000);
}

TEST(ChatGolden, FeatureTemplatesMatchJinja2) {
  const Json g = load("features.json");
  ChatRenderOptions base;
  base.now = parse_now(g["now"].get<std::string>());
  int failures = 0;
  for (const auto& c : g["cases"]) {
    const std::string name = c["name"].get<std::string>();
    std::unique_ptr<ChatTemplate> t;
    try {
      t = std::make_unique<ChatTemplate>(c["source"].get<std::string>(), "<s>", "</s>");
    } catch (const Error& e) {
      if (!c.contains("syntax_error")) {
        ++failures;
        ADD_FAILURE() << name << ": unexpected syntax error " << e.what();
      } else {
        EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << name << ": " << e.what();
        const std::string problem =
            check_error(e, c["error_type"].get<std::string>(), c["syntax_error"].get<std::string>());
        if (!problem.empty()) {
          ++failures;
          ADD_FAILURE() << name << ": " << problem;
        }
      }
      continue;
    }
    if (c.contains("syntax_error")) {
      ++failures;
      ADD_FAILURE() << name << ": parsed, but jinja2 rejects it: " << c["syntax_error"];
      continue;
    }
    ChatRenderOptions opts = base;
    if (c.contains("extra")) opts.extra = c["extra"];
    const Json& messages = c.contains("messages") ? c["messages"] : g["default_messages"];
    const std::string problem = check_case(*t, messages, c["add_generation_prompt"].get<bool>(), opts, c);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << name << " agp=" << c["add_generation_prompt"] << ": " << problem;
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace nagare
