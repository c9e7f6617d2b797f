// Templates that cost far more than the interpreter's limits allow, found while fuzzing the chat
// template interpreter (tests/fuzz/jinja_fuzz.cc): each must now stop at a limit (steps or
// allocated data) quickly, with a ChatTemplateError of kind Limit, instead of running for hours
// or building gigabytes before the limit is checked. Before the fix each took minutes to hours
// (or 2-4 GB of memory); now each ends in well under a second (a few under the sanitizers).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "chat/chat_error.h"
#include "chat/chat_template.h"

namespace nagare {
namespace {

// A 3 MB string, a 100k-item list, and a loop that uses them over and over.
const std::string kBig = "{% set s = 'x' * 3000000 %}{% set t = s ~ '' %}{% set l = range(100000)|list %}";

std::string loop(const std::string& body) { return kBig + "{% for i in range(100000) %}" + body + "{% endfor %}"; }

void expect_limit(const std::string& source, const char* what) {
  SCOPED_TRACE(what);
  const auto start = std::chrono::steady_clock::now();
  try {
    ChatTemplate(source).render({{"user", "hi"}}, true);
    ADD_FAILURE() << "rendered without hitting a limit";
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.kind(), ChatErrorKind::Limit) << e.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 300.0);  // hours before the fix; about 0.2 s now (release build)
}

// Each step scanned a large value for free: max_steps did not bound the run time.
TEST(ChatFuzzRegressions, StepsOnLargeValuesCountTowardsTheStepLimit) {
  expect_limit(loop("{% if 'y' in s %}{% endif %}"), "substring test");
  expect_limit(loop("{{ s|length }}"), "length filter");
  expect_limit(loop("{{ s.count('y') }}"), "string method");
  expect_limit(loop("{% if s == t %}{% endif %}"), "string comparison");
  expect_limit(loop("{% if s is upper %}{% endif %}"), "string test");
  expect_limit(loop("{{ s[2999999] }}"), "index by code point");
  expect_limit(loop("{% if -1 in l %}{% endif %}"), "list membership");
  expect_limit(loop("{{ l|sum }}"), "list filter");
  expect_limit(kBig + "{% set big = [s] * 1000 %}{% for i in range(100000) %}{{ big|map('length')|list|length }}{% endfor %}",
               "filter over a list of shared large strings");
  expect_limit(kBig + "{% set a = [s] * 1000 %}{% set b = [t] * 1000 %}{% for i in range(100000) %}{{ a == b }}{% endfor %}",
               "comparison of lists of shared large strings");
  // unique is quadratic: 100k distinct items were 5e9 comparisons in one step.
  expect_limit(kBig + "{{ l|unique|list|length }}", "unique");
}

// Character lists and splits were built whole (gigabytes) before their size was charged.
TEST(ChatFuzzRegressions, LargeSplitsAreChargedBeforeTheyAreBuilt) {
  const std::string s30 = "{% set s = 'x ' * 15000000 %}";
  expect_limit(s30 + "{{ s|list|length }}", "list of characters");
  expect_limit(s30 + "{% for c in s %}{% endfor %}", "loop over characters");
  expect_limit(s30 + "{{ s.split()|length }}", "split on whitespace");
  expect_limit(s30 + "{{ s.split(' ')|length }}", "split on a separator");
  expect_limit(s30 + "{{ s.rsplit(' ')|length }}", "rsplit on a separator (was also quadratic)");
  expect_limit(s30 + "{{ s.replace(' ', '\\n').splitlines()|length }}", "splitlines");
}

// What the charges must not break: real templates over long conversations render as before.
TEST(ChatFuzzRegressions, LongConversationsStillRender) {
  std::vector<ChatMessage> msgs;
  for (int i = 0; i < 2000; ++i) msgs.push_back({i % 2 ? "assistant" : "user", std::string(2000, 'a' + i % 26)});
  ChatTemplate chatml(*ChatTemplate::builtin_source("chatml"));
  EXPECT_GT(chatml.render(msgs, true).size(), 4000000u);
  // A template that looks at `messages` inside its loop, and at each content several times.
  ChatTemplate t(
      "{% for m in messages %}{% if loop.index0 > 0 and messages[loop.index0 - 1].role == m.role %}"
      "{{ raise_exception('alternate') }}{% endif %}{% if '</think>' in m.content %}{{ m.content.split('</think>')[-1] }}"
      "{% else %}{{ m.content|trim }}{% endif %}{{ messages|length }}{% endfor %}");
  EXPECT_GT(t.render(msgs, false).size(), 4000000u);
  EXPECT_EQ(ChatTemplate("{% set s = 'a,b,c' %}{{ s.rsplit(',') }}{{ s.rsplit(',', 1) }}").render({}, false),
            "['a', 'b', 'c']['a,b', 'c']");
}

}  // namespace
}  // namespace nagare
