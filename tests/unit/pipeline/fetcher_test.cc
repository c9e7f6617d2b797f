// The fetcher (src/pipeline/fetcher.h) against a loopback web site: redirects, errors, limits,
// robots.txt, the private-address guard, the cache, concurrency limits and cancellation.
#include "pipeline/fetcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "loopback_site.h"
#include "pipeline/page_text.h"

namespace nagare {
namespace {

using testing::LoopbackSite;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The loopback site is a private address: the tests other than the guard's allow it.
FetchOptions local() {
  FetchOptions o;
  o.allow_private = true;
  o.timeout_s = 10;
  return o;
}

FetchedPage fetch_one(Fetcher& f, const std::string& url) { return f.fetch_all({url}).at(0); }

TEST(Fetcher, FetchesAPage) {
  LoopbackSite site;
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, site.url("/page"));
  EXPECT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.url, site.url("/page"));
  EXPECT_EQ(p.final_url, site.url("/page"));
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.content_type, "text/html");
  EXPECT_EQ(p.charset_header, "text/html; charset=utf-8");
  EXPECT_EQ(p.body, LoopbackSite::kPageHtml);
  EXPECT_FALSE(p.from_cache);
  EXPECT_GE(p.elapsed_ms, 0);
  EXPECT_EQ(site.requests("/robots.txt"), 1);  // asked first, 404: everything allowed
}

TEST(Fetcher, FollowsRedirects) {
  LoopbackSite site;
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, site.url("/redirect"));
  EXPECT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.url, site.url("/redirect"));
  EXPECT_EQ(p.final_url, site.url("/page"));
  EXPECT_EQ(p.body, LoopbackSite::kPageHtml);
}

TEST(Fetcher, RedirectLoopEndsAfterMaxRedirects) {
  LoopbackSite site;
  FetchOptions o = local();
  o.max_redirects = 3;
  Fetcher f(o);
  const FetchedPage p = fetch_one(f, site.url("/loop-a"));
  EXPECT_TRUE(contains(p.error, "too many redirects")) << p.error;
  EXPECT_EQ(site.requests("/loop-a") + site.requests("/loop-b"), 4);  // the first request and 3 hops
}

TEST(Fetcher, RedirectToAnotherSchemeFails) {
  LoopbackSite site;
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, site.url("/to-ftp"));
  EXPECT_TRUE(contains(p.error, "not an http or https URL")) << p.error;
}

TEST(Fetcher, HttpErrorsNameTheStatus) {
  LoopbackSite site;
  Fetcher f(local());
  const auto pages = f.fetch_all({site.url("/missing"), site.url("/unavailable")});
  EXPECT_EQ(pages[0].status, 404);
  EXPECT_EQ(pages[0].error, "HTTP 404");
  EXPECT_EQ(pages[1].status, 503);
  EXPECT_EQ(pages[1].error, "HTTP 503");
  EXPECT_FALSE(pages[0].ok());
}

TEST(Fetcher, SlowPageTimesOut) {
  LoopbackSite site;
  FetchOptions o = local();
  o.timeout_s = 0.3;
  Fetcher f(o);
  const FetchedPage p = fetch_one(f, site.url("/slow"));
  EXPECT_TRUE(contains(p.error, "timed out")) << p.error;
}

TEST(Fetcher, BodyOverMaxBytesIsCutOff) {
  LoopbackSite site;
  FetchOptions o = local();
  o.max_bytes = 64 * 1024;
  Fetcher f(o);
  // /big says its length up front; /big-stream does not, so the write callback must stop it.
  const auto pages = f.fetch_all({site.url("/big"), site.url("/big-stream"), site.url("/page")});
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(pages[i].error, "larger than 65536 bytes (--max-page-bytes)") << i;
    EXPECT_TRUE(pages[i].body.empty());
  }
  EXPECT_TRUE(pages[2].ok());
}

TEST(Fetcher, InvalidUrlsFailWithoutARequest) {
  LoopbackSite site;
  Fetcher f(local());
  const auto pages = f.fetch_all({"ftp://127.0.0.1/x", "not a url", site.url("/page")});
  EXPECT_TRUE(contains(pages[0].error, "http or https")) << pages[0].error;
  EXPECT_FALSE(pages[1].ok());
  EXPECT_TRUE(pages[2].ok());
  EXPECT_EQ(site.total_requests(), 2);  // robots.txt and /page
}

TEST(Fetcher, ConnectionRefused) {
  int port;
  {
    LoopbackSite gone;
    port = gone.port();
  }
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, "http://127.0.0.1:" + std::to_string(port) + "/page");
  EXPECT_FALSE(p.ok());
  EXPECT_TRUE(contains(p.error, "robots.txt could not be fetched")) << p.error;  // asked first
  FetchOptions o = local();
  o.respect_robots = false;
  Fetcher g(o);
  const FetchedPage q = fetch_one(g, "http://127.0.0.1:" + std::to_string(port) + "/page");
  EXPECT_TRUE(contains(q.error, "Connection refused")) << q.error;
}

TEST(Fetcher, ResultsInInputOrderAndOnDoneOncePerUrl) {
  LoopbackSite site;
  Fetcher f(local());
  const std::vector<std::string> urls = {site.url("/hold?ms=500"), site.url("/missing"), "bad", site.url("/page")};
  std::vector<std::string> done;
  const auto pages = f.fetch_all(urls, [&](const FetchedPage& p) { done.push_back(p.url); });
  ASSERT_EQ(pages.size(), urls.size());
  for (size_t i = 0; i < urls.size(); ++i) EXPECT_EQ(pages[i].url, urls[i]);
  EXPECT_EQ(done.size(), urls.size());
  for (const auto& u : urls) EXPECT_EQ(std::count(done.begin(), done.end(), u), 1) << u;
  EXPECT_EQ(done.back(), urls[0]);  // the held page finishes last
}

TEST(Fetcher, AnExceptionFromOnDoneLeavesTheFetcherUsable) {
  LoopbackSite site;
  Fetcher f(local());
  EXPECT_THROW(f.fetch_all({site.url("/page"), site.url("/hold?ms=300")},
                           [](const FetchedPage&) { throw std::runtime_error("stop"); }),
               std::runtime_error);
  EXPECT_TRUE(fetch_one(f, site.url("/page")).ok());
}

TEST(Fetcher, PerHostLimit) {
  LoopbackSite site;
  FetchOptions o = local();
  o.per_host = 2;
  o.respect_robots = false;
  Fetcher f(o);
  std::vector<std::string> urls;
  for (int i = 0; i < 8; ++i) urls.push_back(site.url("/hold?ms=150&i=" + std::to_string(i)));
  const auto pages = f.fetch_all(urls);
  for (const auto& p : pages) EXPECT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(site.requests("/hold"), 8);
  EXPECT_LE(site.max_in_progress(), 2);
}

TEST(Fetcher, TotalLimit) {
  LoopbackSite site;
  FetchOptions o = local();
  o.per_host = 8;
  o.max_concurrent = 3;
  o.respect_robots = false;
  Fetcher f(o);
  std::vector<std::string> urls;
  for (int i = 0; i < 8; ++i) urls.push_back(site.url("/hold?ms=150&i=" + std::to_string(i)));
  for (const auto& p : f.fetch_all(urls)) EXPECT_TRUE(p.ok()) << p.error;
  EXPECT_LE(site.max_in_progress(), 3);
}

TEST(Fetcher, RobotsTxtDisallowsAndIsAskedOncePerSite) {
  LoopbackSite site;
  site.set_robots(200, "User-agent: *\nDisallow: /private/\n");
  Fetcher f(local());
  const auto pages = f.fetch_all({site.url("/private/a"), site.url("/page"), site.url("/private/b?x=1")});
  EXPECT_TRUE(contains(pages[0].error, "robots.txt disallows")) << pages[0].error;
  EXPECT_TRUE(pages[1].ok()) << pages[1].error;
  EXPECT_TRUE(contains(pages[2].error, "robots.txt disallows"));
  EXPECT_EQ(site.requests("/private/a") + site.requests("/private/b"), 0);
  EXPECT_TRUE(fetch_one(f, site.url("/open/x")).ok());
  EXPECT_EQ(site.requests("/robots.txt"), 1);  // remembered for the Fetcher's life

  FetchOptions o = local();
  o.respect_robots = false;
  Fetcher ignoring(o);
  EXPECT_TRUE(fetch_one(ignoring, site.url("/private/a")).ok());
}

TEST(Fetcher, RobotsTxtForOurProductToken) {
  LoopbackSite site;
  site.set_robots(200, "User-agent: *\nDisallow: /\n\nUser-agent: nagare\nDisallow: /private/\n");
  Fetcher f(local());
  EXPECT_TRUE(fetch_one(f, site.url("/page")).ok());
  EXPECT_FALSE(fetch_one(f, site.url("/private/x")).ok());
}

TEST(Fetcher, RobotsTxtServerErrorDisallowsAll) {
  LoopbackSite site;
  site.set_robots(503, "busy");
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, site.url("/page"));
  EXPECT_TRUE(contains(p.error, "robots.txt answered HTTP 503")) << p.error;
  EXPECT_EQ(site.requests("/page"), 0);
}

TEST(Fetcher, RobotsTxtClientErrorAllowsAll) {
  LoopbackSite site;
  site.set_robots(403, "no");
  Fetcher f(local());
  EXPECT_TRUE(fetch_one(f, site.url("/private/x")).ok());
}

TEST(Fetcher, RedirectToAnotherSiteChecksThatSitesRobotsTxt) {
  LoopbackSite a, b;
  b.set_robots(200, "User-agent: *\nDisallow: /private/\n");
  a.set_other(b.url("/private/x"));
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, a.url("/to-other"));
  EXPECT_TRUE(contains(p.error, "robots.txt disallows")) << p.error;
  EXPECT_EQ(p.final_url, b.url("/private/x"));
  EXPECT_EQ(b.requests("/robots.txt"), 1);
  EXPECT_EQ(b.requests("/private/x"), 0);
}

TEST(Fetcher, PrivateAddressRefusedUnlessAllowed) {
  LoopbackSite site;
  for (bool robots : {true, false}) {
    FetchOptions o;
    o.respect_robots = robots;
    Fetcher f(o);
    const FetchedPage p = fetch_one(f, site.url("/page"));
    EXPECT_TRUE(contains(p.error, "private address refused: 127.0.0.1")) << p.error;
    EXPECT_TRUE(contains(p.error, "--allow-private")) << p.error;
  }
  EXPECT_EQ(site.total_requests(), 0);
  Fetcher f(local());
  EXPECT_TRUE(fetch_one(f, site.url("/page")).ok());
}

TEST(Fetcher, PrivateAddressRefusedByName) {
  LoopbackSite site;
  FetchOptions o;
  o.respect_robots = false;
  Fetcher f(o);
  // A public-looking name is no way round: the check is on the address connected to.
  const FetchedPage p = fetch_one(f, "http://localhost:" + std::to_string(site.port()) + "/page");
  EXPECT_TRUE(contains(p.error, "private address refused")) << p.error;
  EXPECT_EQ(site.total_requests(), 0);
}

class FetcherCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nagare_fetch_cache_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  FetchOptions options() const {
    FetchOptions o = local();
    o.cache_dir = dir_;
    return o;
  }
  std::string dir_;
};

TEST_F(FetcherCache, SecondFetchComesFromTheCache) {
  auto site = std::make_unique<LoopbackSite>();
  site->set_robots(200, "User-agent: *\nDisallow: /private/\n");
  const std::string url = site->url("/redirect");
  {
    Fetcher f(options());
    const FetchedPage p = fetch_one(f, url);
    ASSERT_TRUE(p.ok()) << p.error;
    EXPECT_FALSE(p.from_cache);
  }
  EXPECT_EQ(site->requests("/page"), 1);
  {
    Fetcher f(options());  // a new run
    const FetchedPage p = fetch_one(f, url);
    EXPECT_TRUE(p.from_cache);
    EXPECT_EQ(site->requests("/page"), 1);
    EXPECT_EQ(site->requests("/robots.txt"), 1);
  }
  site->stop();
  Fetcher f(options());
  const FetchedPage p = fetch_one(f, url);
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_TRUE(p.from_cache);
  EXPECT_EQ(p.final_url, url.substr(0, url.rfind('/')) + "/page");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.content_type, "text/html");
  EXPECT_EQ(p.charset_header, "text/html; charset=utf-8");
  EXPECT_EQ(p.body, LoopbackSite::kPageHtml);
  // robots.txt came from the cache too: /private/ is still refused with the site gone.
  EXPECT_TRUE(contains(fetch_one(f, url.substr(0, url.rfind('/')) + "/private/x").error, "robots.txt disallows"));
}

TEST_F(FetcherCache, FailuresAreNotCached) {
  LoopbackSite site;
  {
    Fetcher f(options());
    EXPECT_FALSE(fetch_one(f, site.url("/missing")).ok());
  }
  Fetcher f(options());
  const FetchedPage p = fetch_one(f, site.url("/missing"));
  EXPECT_FALSE(p.from_cache);
  EXPECT_EQ(site.requests("/missing"), 2);
}

TEST(Fetcher, GetSendsHeadersAndSkipsRobots) {
  LoopbackSite site;
  site.set_robots(200, "User-agent: *\nDisallow: /\n");
  Fetcher f(local());
  const FetchedPage p = f.get(site.url("/echo?q=1"), {"X-Api-Key: secret", "Accept: application/json"});
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.body, "{\"ok\":true}");
  EXPECT_EQ(p.content_type, "application/json");
  EXPECT_EQ(site.last_header("X-Api-Key"), "secret");
  EXPECT_EQ(site.last_header("Accept"), "application/json");
  EXPECT_EQ(site.requests("/robots.txt"), 0);
  const FetchedPage e = f.get(site.url("/unavailable"), {});
  EXPECT_EQ(e.error, "HTTP 503");
  EXPECT_EQ(e.body, "down for maintenance");  // an API's explanation is kept
  FetchOptions strict;
  Fetcher g(strict);
  EXPECT_TRUE(contains(g.get(site.url("/echo"), {}).error, "private address refused"));
}

TEST(Fetcher, CancelFromAnotherThread) {
  LoopbackSite site;
  FetchOptions o = local();
  o.respect_robots = false;
  Fetcher f(o);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    f.cancel();
  });
  const auto pages = f.fetch_all({site.url("/slow"), site.url("/slow")});
  canceller.join();
  for (const auto& p : pages) EXPECT_EQ(p.error, "cancelled");
  EXPECT_TRUE(fetch_one(f, site.url("/page")).ok());  // the next call is not cancelled
}

TEST(Fetcher, ShiftJisPageKeepsItsBytesAndHeader) {
  LoopbackSite site;
  Fetcher f(local());
  const FetchedPage p = fetch_one(f, site.url("/sjis"));
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.body, LoopbackSite::shift_jis_html());  // raw, not converted
  EXPECT_EQ(p.charset_header, "text/html; charset=Shift_JIS");
  const PageText t = page_text(p);
  EXPECT_TRUE(t.skipped.empty()) << t.skipped;
  EXPECT_TRUE(contains(t.markdown, "日本語のページ")) << t.markdown;
}

}  // namespace
}  // namespace nagare
