// robots.txt rules (src/pipeline/robots_txt.h), mostly the examples of RFC 9309.
#include "pipeline/robots_txt.h"

#include <gtest/gtest.h>

namespace nagare {
namespace {

// RFC 9309 section 5.1.
constexpr const char* kRfcExample =
    "User-Agent: *\n"
    "Disallow: *.gif$\n"
    "Disallow: /example/\n"
    "Allow: /publications/\n"
    "\n"
    "User-Agent: foobot\n"
    "Disallow:/\n"
    "Allow:/example/page.html\n"
    "Allow:/example/allowed.gif\n"
    "\n"
    "User-Agent: barbot\n"
    "User-Agent: bazbot\n"
    "Disallow: /example/page.html\n"
    "\n"
    "User-Agent: quxbot\n"
    "\n"
    "EOF\n";

TEST(RobotsTxt, RfcExampleFoobot) {
  const auto r = RobotsRules::parse(kRfcExample, "foobot");
  EXPECT_TRUE(r.allowed("/example/page.html"));
  EXPECT_TRUE(r.allowed("/example/allowed.gif"));
  EXPECT_FALSE(r.allowed("/"));
  EXPECT_FALSE(r.allowed("/example/other.html"));
  EXPECT_FALSE(r.allowed("/publications/"));
}

TEST(RobotsTxt, RfcExampleBarbotAndBazbotShareAGroup) {
  for (const char* bot : {"barbot", "bazbot"}) {
    const auto r = RobotsRules::parse(kRfcExample, bot);
    EXPECT_FALSE(r.allowed("/example/page.html")) << bot;
    EXPECT_TRUE(r.allowed("/example/other.html")) << bot;  // the "*" group does not apply to it
    EXPECT_TRUE(r.allowed("/a.gif")) << bot;
  }
}

TEST(RobotsTxt, RfcExampleQuxbotGroupWithoutRulesAllowsAll) {
  const auto r = RobotsRules::parse(kRfcExample, "quxbot");
  EXPECT_TRUE(r.allowed("/example/page.html"));
  EXPECT_TRUE(r.allowed("/a.gif"));
}

TEST(RobotsTxt, RfcExampleOtherBotsGetTheStarGroup) {
  const auto r = RobotsRules::parse(kRfcExample);  // nagare is not named: "*"
  EXPECT_FALSE(r.allowed("/a.gif"));
  EXPECT_FALSE(r.allowed("/dir/b.gif"));
  EXPECT_TRUE(r.allowed("/a.gif?size=2"));  // "$" anchors the end of the whole path and query
  EXPECT_FALSE(r.allowed("/example/"));
  EXPECT_FALSE(r.allowed("/example/x.html"));
  EXPECT_TRUE(r.allowed("/publications/"));
  EXPECT_TRUE(r.allowed("/publications/cover.gif"));  // /publications/ is the longer match
  EXPECT_TRUE(r.allowed("/"));
  EXPECT_TRUE(r.allowed("/exampl"));
}

TEST(RobotsTxt, RfcLongestMatch) {  // section 5.2
  const auto r = RobotsRules::parse(
      "User-Agent: foobot\n"
      "Allow: /example/page/\n"
      "Disallow: /example/page/disallowed.gif\n",
      "foobot");
  EXPECT_TRUE(r.allowed("/example/page/"));
  EXPECT_TRUE(r.allowed("/example/page/allowed.gif"));
  EXPECT_FALSE(r.allowed("/example/page/disallowed.gif"));
}

TEST(RobotsTxt, AllowWinsATie) {
  const auto r = RobotsRules::parse("User-agent: *\nDisallow: /page\nAllow: /page\n");
  EXPECT_TRUE(r.allowed("/page"));
  const auto wild = RobotsRules::parse("User-agent: *\nDisallow: /a*\nAllow: /a$\n");  // both 3 octets
  EXPECT_TRUE(wild.allowed("/a"));
  EXPECT_FALSE(wild.allowed("/ab"));
}

TEST(RobotsTxt, RfcSpecialCharacters) {  // section 2.2.3
  const auto exact = RobotsRules::parse(
      "User-agent: *   # comment after a value\n"
      "# a comment on its own line\n"
      "Disallow: /\n"
      "Allow: /this/path/exactly$\n");
  EXPECT_TRUE(exact.allowed("/this/path/exactly"));
  EXPECT_FALSE(exact.allowed("/this/path/exactly/not"));
  EXPECT_FALSE(exact.allowed("/this/path/exactl"));
  const auto any = RobotsRules::parse("User-agent: *\nDisallow: /\nAllow: /this/*/exactly\n");
  EXPECT_TRUE(any.allowed("/this/path/exactly"));
  EXPECT_TRUE(any.allowed("/this/any/thing/exactly"));
  EXPECT_TRUE(any.allowed("/this/any/exactly/and/more"));  // no "$": a prefix
  EXPECT_FALSE(any.allowed("/this/exactly"));
  EXPECT_FALSE(any.allowed("/that/path/exactly"));
}

TEST(RobotsTxt, RfcPercentEncoding) {  // section 2.2.2's table
  struct Case {
    const char* rule;
    const char* path;
  };
  for (const Case& c : {Case{"/foo/bar?baz=quz", "/foo/bar?baz=quz"},
                        Case{"/foo/bar?baz=https://foo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"},
                        Case{"/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84"},
                        Case{"/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"},
                        Case{"/foo/bar/%62%61%7A", "/foo/bar/baz"},
                        Case{"/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84"}}) {
    const auto r = RobotsRules::parse(std::string("User-agent: *\nDisallow: ") + c.rule + "\n");
    EXPECT_FALSE(r.allowed(c.path)) << c.rule << " vs " << c.path;
    EXPECT_TRUE(r.allowed("/other")) << c.rule;
  }
}

TEST(RobotsTxt, EscapedStarIsLiteral) {
  const auto r = RobotsRules::parse("User-agent: *\nDisallow: /a%2Ab\n");
  EXPECT_FALSE(r.allowed("/a*b"));
  EXPECT_TRUE(r.allowed("/axb"));
}

TEST(RobotsTxt, ProductTokenMatchesCaseInsensitivelyAndIgnoresVersions) {
  const char* text =
      "User-agent: *\nDisallow: /\n\n"
      "User-agent: NAGARE/1.0\nDisallow: /private/\n";
  const auto r = RobotsRules::parse(text);
  EXPECT_TRUE(r.allowed("/public"));
  EXPECT_FALSE(r.allowed("/private/x"));
  // Another product whose name starts with ours is not us.
  const auto other = RobotsRules::parse("User-agent: nagarebot\nDisallow: /\n");
  EXPECT_TRUE(other.allowed("/x"));
}

TEST(RobotsTxt, GroupsNamingUsAreCombined) {
  const auto r = RobotsRules::parse(
      "User-agent: nagare\nDisallow: /a/\n\n"
      "User-agent: other\nDisallow: /b/\n\n"
      "User-agent: nagare\nDisallow: /c/\n");
  EXPECT_FALSE(r.allowed("/a/x"));
  EXPECT_TRUE(r.allowed("/b/x"));
  EXPECT_FALSE(r.allowed("/c/x"));
}

TEST(RobotsTxt, EmptyDisallowAllowsAndRulesBeforeAnyGroupAreIgnored) {
  EXPECT_TRUE(RobotsRules::parse("User-agent: *\nDisallow:\n").allowed("/anything"));
  EXPECT_TRUE(RobotsRules::parse("Disallow: /\nUser-agent: *\nAllow: /x\n").allowed("/y"));
}

TEST(RobotsTxt, ToleratesCrlfBomUnknownLinesAndCase) {
  const auto r = RobotsRules::parse(
      "\xEF\xBB\xBFuser-AGENT: *\r\nSitemap: https://example.com/sitemap.xml\r\nnonsense line\r\n"
      "crawl-delay: 10\r\nDISALLOW: /x\r\n");
  EXPECT_FALSE(r.allowed("/x/y"));
  EXPECT_TRUE(r.allowed("/y"));
}

TEST(RobotsTxt, NoGroupForUsOrStarAllowsAll) {
  EXPECT_TRUE(RobotsRules::parse("User-agent: googlebot\nDisallow: /\n").allowed("/x"));
  EXPECT_TRUE(RobotsRules::parse("").allowed("/x"));
}

TEST(RobotsTxt, RobotsTxtItselfIsAlwaysAllowed) {
  EXPECT_TRUE(RobotsRules::disallow_all().allowed("/robots.txt"));
  EXPECT_FALSE(RobotsRules::disallow_all().allowed("/"));
  EXPECT_FALSE(RobotsRules::disallow_all().allowed(""));
  EXPECT_TRUE(RobotsRules::allow_all().allowed("/x"));
}

TEST(RobotsTxt, OnlyTheFirst500KiBAreParsed) {
  std::string text = "User-agent: *\nDisallow: /early\n";
  while (text.size() < RobotsRules::kMaxBytes) text += "# padding padding padding padding padding padding\n";
  text += "Disallow: /late\n";
  const auto r = RobotsRules::parse(text);
  EXPECT_FALSE(r.allowed("/early"));
  EXPECT_TRUE(r.allowed("/late"));
  // A rule cut in two by the limit is dropped, not read as the shorter "/l".
  std::string cut = "User-agent: *\n";
  cut += std::string(RobotsRules::kMaxBytes - cut.size() - 1 - 12, '#') + "\n";
  cut += "Disallow: /long\n";  // the limit falls after "Disallow: /l"
  ASSERT_EQ(cut.substr(RobotsRules::kMaxBytes - 12, 12), "Disallow: /l");
  EXPECT_TRUE(RobotsRules::parse(cut).allowed("/list"));
}

}  // namespace
}  // namespace nagare
