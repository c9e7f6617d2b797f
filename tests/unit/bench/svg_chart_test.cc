// The SVG chart is well-formed XML (checked by a small tag-balancing scanner here, and by
// Python's XML parser in tests/api), draws one series per run, and escapes labels.
#include "bench/svg_chart.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "util/error.h"

namespace nagare::bench {
namespace {

// Checks tag balance, quoted attributes and entity use; returns "" or the first problem.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  size_t i = 0;
  int roots = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      size_t semi = s.find(';', i);
      if (semi == std::string::npos) return "bare &";
      std::string ent = s.substr(i, semi - i + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;") return "entity " + ent;
      i = semi + 1;
      continue;
    }
    if (s[i] == '>') return "bare > at " + std::to_string(i);
    if (s[i] != '<') {
      if (stack.empty() && !isspace(static_cast<unsigned char>(s[i]))) return "text outside the root";
      ++i;
      continue;
    }
    if (s.compare(i, 2, "<?") == 0) {
      i = s.find("?>", i);
      if (i == std::string::npos) return "unclosed <?";
      i += 2;
      continue;
    }
    size_t end = i + 1;
    char quote = 0;
    for (; end < s.size(); ++end) {
      if (quote) {
        if (s[end] == quote) quote = 0;
        else if (s[end] == '<') return "< inside an attribute";
      } else if (s[end] == '"' || s[end] == '\'') {
        quote = s[end];
      } else if (s[end] == '>') {
        break;
      }
    }
    if (end >= s.size()) return "unclosed tag";
    std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "mismatched </" + name + ">";
      stack.pop_back();
    } else {
      bool self = tag.back() == '/';
      std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
      if (stack.empty() && ++roots > 1) return "two root elements";
      if (!self) stack.push_back(name);
    }
    i = end + 1;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return roots == 1 ? "" : "no root element";
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

LevelMetrics lm(double level, double tps, double mean_ms, size_t ok = 4) {
  LevelMetrics m;
  m.level = level;
  m.completion_tps = tps;
  m.succeeded = ok;
  m.attempted = 4;
  m.e2e_ms = summarize({mean_ms, mean_ms * 2});
  return m;
}

BenchResult run(const std::string& label, std::vector<LevelMetrics> levels) {
  BenchResult r;
  r.label = label;
  r.model = "m";
  r.url = "http://127.0.0.1:1";
  r.workload = {{"name", "extraction <en> & \"ja\""}};
  r.levels = std::move(levels);
  return r;
}

TEST(SvgChart, WellFormedWithOneSeriesPerRun) {
  std::string svg = render_chart({run("nagare", {lm(1, 10, 500), lm(5, 40, 900), lm(20, 90, 2000)}),
                                  run("llama.cpp & <friends>", {lm(1, 8, 600), lm(5, 30, 1200), lm(20, 50, 4000)})});
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  // Per run: a throughput line, a mean-latency line and a dashed p95 line.
  EXPECT_EQ(count(svg, "<polyline"), 6u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 18u);
  EXPECT_NE(svg.find("llama.cpp &amp; &lt;friends&gt;"), std::string::npos);
  EXPECT_NE(svg.find("extraction &lt;en&gt; &amp; &quot;ja&quot;"), std::string::npos);
  EXPECT_NE(svg.find(">Concurrency<"), std::string::npos);
}

TEST(SvgChart, LevelsWithoutSuccessHaveNoLatencyPoint) {
  std::string svg = render_chart({run("a", {lm(1, 0, 0, 0), lm(2, 10, 100)})});
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "<circle"), 2u + 1 + 1);  // throughput at both levels, latency at one
}

TEST(SvgChart, RateSweepWithInfinityAndSingleLevel) {
  BenchResult r = run("r", {lm(0.5, 5, 100), lm(std::numeric_limits<double>::infinity(), 9, 300)});
  r.rate_mode = true;
  std::string svg = render_chart({r});
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find(">inf<"), std::string::npos);
  EXPECT_NE(svg.find("Request rate (req/s)"), std::string::npos);
  EXPECT_EQ(xml_problem(render_chart({run("one", {lm(8, 5, 100)})})), "");
}

TEST(SvgChart, RefusesNothingAndMixedSweeps) {
  EXPECT_THROW(render_chart({}), Error);
  EXPECT_THROW(render_chart({run("empty", {})}), Error);
  BenchResult rate = run("r", {lm(1, 1, 1)});
  rate.rate_mode = true;
  EXPECT_THROW(render_chart({run("c", {lm(1, 1, 1)}), rate}), Error);
}

TEST(SvgChart, XmlEscapeAndScannerCatchProblems) {
  EXPECT_EQ(xml_escape("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&quot;c&apos; ");
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");
  EXPECT_NE(xml_problem("<svg>a & b</svg>"), "");
  EXPECT_NE(xml_problem("<svg/><svg/>"), "");
  EXPECT_EQ(xml_problem("<?xml version=\"1.0\"?>\n<svg><g a=\"x>y\"/></svg>\n"), "");
}

TEST(SvgChart, NiceTicks) {
  EXPECT_EQ(nice_ticks(20), (std::vector<double>{0, 5, 10, 15, 20}));
  EXPECT_EQ(nice_ticks(1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(nice_ticks(2, 5, true), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(nice_ticks(13, 5, true), (std::vector<double>{0, 5, 10, 15}));
  EXPECT_EQ(nice_ticks(0).back(), 1);
  EXPECT_EQ(nice_ticks(std::numeric_limits<double>::infinity()).back(), 1);
  auto t = nice_ticks(87.3);
  EXPECT_GE(t.back(), 87.3);
  EXPECT_LE(t.size(), 7u);
}

}  // namespace
}  // namespace nagare::bench
