// ChatTemplate API, error reporting, limits and robustness: hostile or broken templates must end
// in a nagare::Error (never a crash, hang or stack overflow).
#include <gtest/gtest.h>

#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "chat/chat_error.h"
#include "chat/chat_template.h"
#include "util/error.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

std::string error_of(const std::string& source, const std::vector<ChatMessage>& msgs = {{"user", "hi"}}) {
  try {
    ChatTemplate t(source);
    t.render(msgs, true);
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The category of the error parsing and rendering `source` raise; nullopt if it renders.
std::optional<ChatErrorKind> kind_of(const std::string& source, const Json& messages = Json::array()) {
  try {
    ChatTemplate(source).render_json(messages, true);
  } catch (const ChatTemplateError& e) {
    return e.kind();
  }
  return std::nullopt;
}

TEST(ChatTemplate, BuiltinsByName) {
  for (const char* name : {"chatml", "llama3", "mistral", "gemma"}) {
    auto src = ChatTemplate::builtin_source(name);
    ASSERT_TRUE(src.has_value()) << name;
    EXPECT_NO_THROW(ChatTemplate{*src}) << name;
  }
  EXPECT_FALSE(ChatTemplate::builtin_source("llama2").has_value());
  EXPECT_FALSE(ChatTemplate::builtin_source("").has_value());
}

TEST(ChatTemplate, DefaultNameForArchitecture) {
  EXPECT_EQ(ChatTemplate::default_name_for_architecture("gemma3"), "gemma");
  EXPECT_EQ(ChatTemplate::default_name_for_architecture("gemma2"), "gemma");
  EXPECT_EQ(ChatTemplate::default_name_for_architecture("gemma"), "gemma");
  EXPECT_EQ(ChatTemplate::default_name_for_architecture("llama"), "chatml");
  EXPECT_EQ(ChatTemplate::default_name_for_architecture("qwen2"), "chatml");
  EXPECT_EQ(ChatTemplate::default_name_for_architecture(""), "chatml");
}

TEST(ChatTemplate, RendersChatMessages) {
  ChatTemplate t(*ChatTemplate::builtin_source("chatml"));
  EXPECT_EQ(t.render({{"system", "S"}, {"user", "Hi"}}, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.render({{"user", "Hi"}}, false), "<|im_start|>user\nHi<|im_end|>\n");
  ChatTemplate moved = std::move(t);
  EXPECT_EQ(moved.render({}, true), "<|im_start|>assistant\n");
}

TEST(ChatTemplate, RaiseExceptionMessageReachesTheError) {
  ChatTemplate mistral(*ChatTemplate::builtin_source("mistral"), "<s>", "</s>");
  try {
    mistral.render({{"user", "a"}, {"user", "b"}}, true);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "Conversation roles must alternate user/assistant/user/assistant/...")) << e.what();
  }
  EXPECT_TRUE(contains(error_of("{{ raise_exception('custom ' ~ 42) }}"), "custom 42"));
}

TEST(ChatTemplate, SyntaxErrorsNameLineAndColumn) {
  const std::string e = error_of("first line\nsecond {{ 1 + }}");
  EXPECT_TRUE(contains(e, "syntax error")) << e;
  EXPECT_TRUE(contains(e, "line 2, column")) << e;
  EXPECT_TRUE(contains(error_of("{% if x %}\n\n{% endfor %}"), "line 3")) << error_of("{% if x %}\n\n{% endfor %}");
  EXPECT_TRUE(contains(error_of("{{ 'x'|nosuchfilter }}"), "No filter named 'nosuchfilter'"));
  EXPECT_TRUE(contains(error_of("a\r\nb\r\n{% bogus %}"), "line 3")) << "CRLF counts as one line break";
}

TEST(ChatTemplate, RuntimeErrorsNameLine) {
  const std::string e = error_of("ok\n{{ messages[0].nope.deeper }}");
  EXPECT_TRUE(contains(e, "line 2")) << e;
  EXPECT_TRUE(contains(e, "'dict object' has no attribute 'nope'")) << e;
  EXPECT_TRUE(contains(error_of("{{ undefined_thing.x }}"), "'undefined_thing' is undefined"));
}

// The golden test compares categories with jinja2's exceptions; these are the ones it cannot see:
// nagare's own limits, and the category named in the message users get.
TEST(ChatTemplate, ErrorsCarryTheirCategory) {
  EXPECT_EQ(kind_of("{{ 1 + }}"), ChatErrorKind::Syntax);
  EXPECT_EQ(kind_of("{{ raise_exception('no') }}"), ChatErrorKind::Raised);
  EXPECT_EQ(kind_of("{{ nothing.attr }}"), ChatErrorKind::Undefined);
  EXPECT_EQ(kind_of("{{ [].append(1) }}"), ChatErrorKind::Security);
  EXPECT_EQ(kind_of("{{ 'a' + 1 }}"), ChatErrorKind::Type);
  EXPECT_EQ(kind_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), ChatErrorKind::Limit);
  EXPECT_EQ(kind_of("{% for i in range(100000) %}{% for j in range(200) %}{% endfor %}{% endfor %}"),
            ChatErrorKind::Limit);
  EXPECT_EQ(kind_of("{{ 'x' * 1000000000 }}"), ChatErrorKind::Limit);
  Json deep = "leaf";
  for (int i = 0; i < 300; ++i) deep = Json::array({deep});
  EXPECT_EQ(kind_of("{{ messages }}", Json::array({deep})), ChatErrorKind::Limit);
  EXPECT_EQ(kind_of("{{ '{:>5}'.format(1) }}"), ChatErrorKind::Unsupported);
  EXPECT_EQ(kind_of("{% for m in messages recursive %}{% endfor %}"), ChatErrorKind::Unsupported);
  EXPECT_EQ(kind_of("{{ messages }}"), std::nullopt);
  // The message names where and what: users see it when a model's template fails.
  EXPECT_EQ(error_of("ok\n  {{ nothing.attr }}"),
            "chat template error at line 2, column 13: UndefinedError: 'nothing' is undefined");
  EXPECT_EQ(error_of("{{ raise_exception('Roles must alternate') }}"), "chat template error: Roles must alternate");
}

TEST(ChatTemplate, ExtraVariablesAndFixedClock) {
  ChatTemplate t("{{ greeting }} {{ tools|length }} {{ strftime_now('%Y-%m-%d %a') }}");
  ChatRenderOptions opts;
  opts.extra = {{"greeting", "hello"}, {"tools", Json::array({1, 2})}};
  std::tm tm{};
  tm.tm_year = 2025 - 1900, tm.tm_mon = 0, tm.tm_mday = 31, tm.tm_wday = 5;
  opts.now = tm;
  EXPECT_EQ(t.render_json(Json::array(), false, opts), "hello 2 2025-01-31 Fri");
  // Without a fixed clock strftime_now reads the local time.
  const std::string year = ChatTemplate("{{ strftime_now('%Y') }}").render({}, false);
  EXPECT_EQ(year.size(), 4u);
}

TEST(ChatTemplate, DeepNestingIsAnErrorNotAStackOverflow) {
  const int n = 100000;
  EXPECT_TRUE(contains(error_of("{{ " + std::string(n, '(') + "1" + std::string(n, ')') + " }}"), "nested too deeply"));
  EXPECT_TRUE(contains(error_of("{{ " + std::string(n, '[') + std::string(n, ']') + " }}"), "nested too deeply"));
  std::string nots = "{{ ";
  for (int i = 0; i < n; ++i) nots += "not ";
  EXPECT_TRUE(contains(error_of(nots + "1 }}"), "nested too deeply"));
  std::string sum = "{{ 1";
  for (int i = 0; i < n; ++i) sum += " + 1";
  EXPECT_TRUE(contains(error_of(sum + " }}"), "nested too deeply"));
  std::string filters = "{{ 'x'";
  for (int i = 0; i < n; ++i) filters += "|upper";
  EXPECT_TRUE(contains(error_of(filters + " }}"), "nested too deeply"));
  std::string ifs;
  for (int i = 0; i < 20000; ++i) ifs += "{% if true %}";
  EXPECT_TRUE(contains(error_of(ifs), "nested too deeply"));
  std::string conds = "{{ 1";
  for (int i = 0; i < n; ++i) conds += " if true else 1";
  EXPECT_TRUE(contains(error_of(conds + " }}"), "nested too deeply"));
  // Deeply nested input data is refused as well.
  Json deep = "leaf";
  for (int i = 0; i < 2000; ++i) deep = Json::array({deep});
  EXPECT_THROW(ChatTemplate("{{ messages }}").render_json(Json::array({deep}), false), Error);
}

TEST(ChatTemplate, RunawayTemplatesHitLimits) {
  EXPECT_TRUE(contains(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "recursion too deep"));
  const std::string nested = error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  EXPECT_TRUE(contains(nested, "too many steps") || contains(nested, "too much data")) << nested;
  EXPECT_TRUE(contains(error_of("{% for i in range(100000) %}{% for j in range(200) %}{{ i }}{% endfor %}{% endfor %}"),
                       "too many steps"));
  EXPECT_TRUE(contains(error_of("{{ range(100001)|length }}"), "Range too big"));
  EXPECT_TRUE(contains(error_of("{{ 'x' * 1000000000 }}"), "too large"));
  EXPECT_TRUE(contains(error_of("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"), "too large"));
  EXPECT_TRUE(contains(
      error_of("{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"),
      "too large"));
  EXPECT_TRUE(contains(error_of("{% set ns = namespace(l=[0]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"),
                       "too much data"));
  EXPECT_TRUE(contains(error_of("{{ 2 ** 64 }}"), "overflow"));
  EXPECT_TRUE(contains(error_of("{{ 9223372036854775807 + 1 }}"), "overflow"));
}

// One parsed template is shared by the engine's threads: concurrent renders must agree.
TEST(ChatTemplate, ConcurrentRendersOfOneTemplateAgree) {
  const std::string src =
      "{% set ns = namespace(n=0) %}{% for m in messages|selectattr('role', 'equalto', 'user') %}"
      "{% set ns.n = ns.n + 1 %}{{ ns.n }}:{{ m.content|upper }};{% endfor %}{{ [3, 1, 2]|reverse|list }}"
      "{{ {'a': [1, 2]}|tojson }}{{ messages|map(attribute='role')|join(',') }}";
  const ChatTemplate t(src);
  const std::vector<ChatMessage> msgs = {{"system", "s"}, {"user", "a"}, {"assistant", "b"}, {"user", "c"}};
  const std::string want = t.render(msgs, true);
  EXPECT_EQ(want, "1:A;2:C;[2, 1, 3]{\"a\": [1, 2]}system,user,assistant,user");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i)
        if (t.render(msgs, true) != want) ++mismatches[k];
    });
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// The deepest templates the limits allow still fit in a small thread stack (release builds use
// well under 256 KiB; sanitizer builds about 2 MiB), far below the usual 8 MiB.
TEST(ChatTemplate, WorstCaseNestingFitsInFourMegabyteStack) {
  static std::vector<std::string> results;
  results.clear();
  auto body = [](void*) -> void* {
    const std::vector<std::string> sources = {
        "{{ " + std::string(99, '(') + "'x'" + std::string(99, ')') + " }}",
        "{% macro f(n) %}{% if true %}{% for i in [1] %}{{ ((f(n + 1)|trim)) }}{% endfor %}{% endif %}{% endmacro %}{{ f(0) }}",
        [] {
          std::string s;
          for (int i = 0; i < 95; ++i) s += "{% if true %}{% for x in [1] %}";
          return s + "deep";
        }() + [] {
          std::string s;
          for (int i = 0; i < 95; ++i) s += "{% endfor %}{% endif %}";
          return s;
        }(),
    };
    for (const auto& src : sources) results.push_back(error_of(src));
    return nullptr;
  };
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 4u << 20);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attr, body, nullptr), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], "");
  EXPECT_TRUE(contains(results[1], "recursion too deep")) << results[1];
  EXPECT_EQ(results[2], "");
}

// Every prefix and many random corruptions of real templates either parse or give a syntax
// ChatTemplateError, and whatever parses renders or gives a render-time one: no crash, no other
// exception type (an uncategorized nagare::Error included), no hang.
TEST(ChatTemplate, TruncatedAndGarbledTemplatesNeverCrash) {
  std::vector<std::string> sources;
  for (const char* name : {"chatml", "llama3", "mistral", "gemma"}) sources.push_back(*ChatTemplate::builtin_source(name));
  const std::string dir = std::string(NAGARE_SOURCE_DIR) + "/tests/golden/chat/templates";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    sources.push_back(ss.str());
  }
  ASSERT_GT(sources.size(), 10u);
  const Json msgs = Json::parse(R"([{"role":"system","content":"s"},{"role":"user","content":"u {{x}}"},
      {"role":"assistant","content":"a","tool_calls":[{"function":{"name":"f","arguments":{"k":1}}}]},
      {"role":"tool","content":"t"},{"role":"user","content":"u2"}])");
  std::mt19937 rng(1234);
  const std::string alphabet = "{}%#-+()[]'\"|.~:,=!<> \n\tabcxyz019_\\";
  int parsed = 0, rendered = 0, variants = 0;
  auto attempt = [&](const std::string& src) {
    ++variants;
    std::unique_ptr<ChatTemplate> t;
    try {
      t = std::make_unique<ChatTemplate>(src, "<s>", "</s>");
    } catch (const ChatTemplateError& e) {
      EXPECT_TRUE(e.kind() == ChatErrorKind::Syntax || e.kind() == ChatErrorKind::Unsupported) << e.what();
      return;
    }
    ++parsed;
    try {
      t->render_json(msgs, true);
      ++rendered;
    } catch (const ChatTemplateError& e) {
      EXPECT_NE(e.kind(), ChatErrorKind::Syntax) << e.what();
    }
  };
  for (const std::string& src : sources) {
    const size_t stride = std::max<size_t>(1, src.size() / 300);
    for (size_t cut = 0; cut < src.size(); cut += stride) ASSERT_NO_FATAL_FAILURE(attempt(src.substr(0, cut)));
    for (int k = 0; k < 150; ++k) {
      std::string g = src;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !g.empty(); ++e) {
        const size_t at = rng() % g.size();
        switch (rng() % 4) {
          case 0: g[at] = alphabet[rng() % alphabet.size()]; break;
          case 1: g.erase(at, 1 + rng() % 8); break;
          case 2: g.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
          default: g[at] = static_cast<char>(rng() % 256); break;
        }
      }
      attempt(g);
    }
  }
  // Some variants must get through parsing and rendering, or the loop tested nothing.
  EXPECT_GT(parsed, variants / 10);
  EXPECT_GT(rendered, 100);
}

}  // namespace
}  // namespace nagare
