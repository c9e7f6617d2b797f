// URL parsing, canonical forms and relative-reference resolution (src/pipeline/url.h).
#include "pipeline/url.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace nagare {
namespace {

TEST(Url, ParsesTheParts) {
  const Url u = Url::parse("HTTPS://Example.COM:8443/a/b?x=1&y=2#top");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.path, "/a/b");
  EXPECT_EQ(u.query, "x=1&y=2");
  EXPECT_EQ(u.fragment, "top");
  EXPECT_EQ(u.path_and_query(), "/a/b?x=1&y=2");
  EXPECT_FALSE(u.default_port());
}

TEST(Url, DefaultPortsAndEmptyPath) {
  const Url h = Url::parse("http://example.com");
  EXPECT_EQ(h.port, 80);
  EXPECT_EQ(h.path, "/");
  EXPECT_TRUE(h.default_port());
  EXPECT_EQ(Url::parse("https://example.com").port, 443);
}

TEST(Url, Ipv6HostKeepsBrackets) {
  const Url u = Url::parse("http://[::1]:8080/x");
  EXPECT_EQ(u.host, "[::1]");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.origin(), "http://[::1]:8080");
}

TEST(Url, SpacesAreEncodedNotRefused) {
  const Url u = Url::parse(" http://example.com/a b?q=c d ");
  EXPECT_EQ(u.path, "/a%20b");
  EXPECT_EQ(u.href, "http://example.com/a%20b?q=c+d");  // libcurl writes a space in a query as "+"
}

TEST(Url, RefusesGarbageAndOtherSchemes) {
  for (const char* bad : {"garbage", "", "http://", "ftp://example.com/file", "javascript:alert(1)",
                          "mailto:a@example.com", "file:///etc/passwd", "http://exa mple.com/", "//example.com/x",
                          "http://example.com:99999/"})
    EXPECT_THROW(Url::parse(bad), Error) << bad;
}

TEST(Url, ErrorNamesTheUrl) {
  try {
    Url::parse("ftp://example.com/file");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ftp://example.com/file"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("http or https"), std::string::npos);
  }
}

TEST(CanonicalUrl, LowercasesSchemeAndHostAndDropsDefaultPortAndFragment) {
  EXPECT_EQ(canonical_url("HTTP://Example.COM:80/Path?Q=1#frag"), "http://example.com/Path?Q=1");
  EXPECT_EQ(canonical_url("https://example.com:443"), "https://example.com/");
  EXPECT_EQ(canonical_url("https://example.com:8443/"), "https://example.com:8443/");
}

TEST(CanonicalUrl, DropsTrackingParametersKeepingTheOthersInOrder) {
  EXPECT_EQ(canonical_url("https://example.com/a?utm_source=x&b=2&fbclid=y&a=1&gclid=z&UTM_Medium=m&mc_cid=1&mc_eid=2&ref_src=tw"),
            "https://example.com/a?b=2&a=1");
  EXPECT_EQ(canonical_url("https://example.com/a?utm_source=x"), "https://example.com/a");
  EXPECT_EQ(canonical_url("https://example.com/a?x=1&&y=2&"), "https://example.com/a?x=1&y=2");
  // Only whole names: "reference" and "utmost" are not tracking parameters.
  EXPECT_EQ(canonical_url("https://example.com/?reference=1&utmost=2"), "https://example.com/?reference=1&utmost=2");
}

TEST(CanonicalUrl, NormalizesEscapesAndDotSegments) {
  EXPECT_EQ(canonical_url("http://example.com/%7euser/%E3%83%84"), "http://example.com/~user/%e3%83%84");
  EXPECT_EQ(canonical_url("http://example.com/a/./b/../c"), "http://example.com/a/c");
  EXPECT_EQ(canonical_url("http://example.com/a%2Fb"), "http://example.com/a%2fb");  // not "/"
  EXPECT_EQ(canonical_url("http://example.com/?q=%41%2B"), "http://example.com/?q=A%2b");
  EXPECT_EQ(canonical_url("http://example.com/%E3%83%84"), canonical_url("http://example.com/%e3%83%84"));
}

TEST(CanonicalUrl, SameForEquivalentLinks) {
  EXPECT_EQ(canonical_url("https://Example.com/docs?utm_campaign=z#intro"), canonical_url("https://example.com:443/docs"));
  EXPECT_NE(canonical_url("https://example.com/docs"), canonical_url("http://example.com/docs"));
  EXPECT_NE(canonical_url("https://example.com/docs?page=2"), canonical_url("https://example.com/docs?page=3"));
}

TEST(CanonicalUrl, ThrowsForNonHttp) { EXPECT_THROW(canonical_url("ftp://example.com/"), Error); }

TEST(ResolveUrl, Rfc3986References) {
  const std::string base = "http://a.com/b/c/d;p?q";
  EXPECT_EQ(resolve_url(base, "g"), "http://a.com/b/c/g");
  EXPECT_EQ(resolve_url(base, "./g"), "http://a.com/b/c/g");
  EXPECT_EQ(resolve_url(base, "g/"), "http://a.com/b/c/g/");
  EXPECT_EQ(resolve_url(base, "/g"), "http://a.com/g");
  EXPECT_EQ(resolve_url(base, "//g.org/x"), "http://g.org/x");
  EXPECT_EQ(resolve_url(base, "?y"), "http://a.com/b/c/d;p?y");
  EXPECT_EQ(resolve_url(base, "g?y"), "http://a.com/b/c/g?y");
  EXPECT_EQ(resolve_url(base, "#s"), "http://a.com/b/c/d;p?q#s");
  EXPECT_EQ(resolve_url(base, ""), "http://a.com/b/c/d;p?q");
  EXPECT_EQ(resolve_url(base, "../g"), "http://a.com/b/g");
  EXPECT_EQ(resolve_url(base, "../../g"), "http://a.com/g");
  EXPECT_EQ(resolve_url(base, "https://other.org/"), "https://other.org/");
  EXPECT_EQ(resolve_url(base, "  g  "), "http://a.com/b/c/g");
}

TEST(ResolveUrl, NonHttpLinksThrow) {
  EXPECT_THROW(resolve_url("http://a.com/", "mailto:x@a.com"), Error);
  EXPECT_THROW(resolve_url("http://a.com/", "javascript:void(0)"), Error);
  EXPECT_THROW(resolve_url("http://a.com/", "ftp://a.com/f"), Error);
  EXPECT_THROW(resolve_url("not a url", "/x"), Error);
}

TEST(Origin, SchemeHostAndOnlyANonDefaultPort) {
  EXPECT_EQ(origin("https://Example.com/a?b#c"), "https://example.com");
  EXPECT_EQ(origin("http://example.com:80/"), "http://example.com");
  EXPECT_EQ(origin("http://example.com:8080/x"), "http://example.com:8080");
  EXPECT_EQ(origin("https://example.com:80/x"), "https://example.com:80");
}

}  // namespace
}  // namespace nagare
