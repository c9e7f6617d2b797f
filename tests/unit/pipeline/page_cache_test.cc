// The on-disk page cache (src/pipeline/page_cache.h): round trips, canonical keys, damaged
// entries read as misses, and the age limit.
#include "pipeline/page_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace nagare {
namespace {

namespace fs = std::filesystem;

class PageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nagare_page_cache_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static CachedPage page(const std::string& url, std::string body = "<html>hello</html>") {
    CachedPage p;
    p.url = url;
    p.final_url = url + "?final";
    p.status = 200;
    p.content_type = "text/html; charset=Shift_JIS";
    p.body = std::move(body);
    return p;
  }
  std::string entry(const std::string& url, const char* ext) const {
    const std::string key = PageCache::key(url);
    return dir_ + "/" + key.substr(0, 2) + "/" + key + ext;
  }
  static void write(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

  std::string dir_;
};

TEST_F(PageCacheTest, RoundTrip) {
  PageCache cache(dir_);
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(cache.put(page("https://example.com/a", binary)));
  const auto got = cache.get("https://example.com/a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->url, "https://example.com/a");
  EXPECT_EQ(got->final_url, "https://example.com/a?final");
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->content_type, "text/html; charset=Shift_JIS");
  EXPECT_EQ(got->body, binary);
  EXPECT_NEAR(double(got->fetched_at), double(std::time(nullptr)), 60);
  EXPECT_FALSE(cache.get("https://example.com/b"));
}

TEST_F(PageCacheTest, KeyIsTheCanonicalUrl) {
  EXPECT_EQ(PageCache::key("https://Example.com:443/a?utm_source=x#f"), PageCache::key("https://example.com/a"));
  EXPECT_NE(PageCache::key("https://example.com/a"), PageCache::key("https://example.com/b"));
  EXPECT_EQ(PageCache::key("https://example.com/a").size(), 64u);
  PageCache cache(dir_);
  ASSERT_TRUE(cache.put(page("https://example.com/a")));
  EXPECT_TRUE(cache.get("HTTPS://EXAMPLE.com/a?utm_medium=email"));
  EXPECT_THROW(PageCache::key("ftp://example.com/"), Error);
  EXPECT_FALSE(cache.get("not a url"));
  EXPECT_FALSE(cache.put(page("not a url")));
}

TEST_F(PageCacheTest, PutReplaces) {
  PageCache cache(dir_);
  ASSERT_TRUE(cache.put(page("https://example.com/a", "old")));
  ASSERT_TRUE(cache.put(page("https://example.com/a", "new")));
  EXPECT_EQ(cache.get("https://example.com/a")->body, "new");
}

TEST_F(PageCacheTest, DamagedEntriesAreMissesAndGetOverwritten) {
  PageCache cache(dir_);
  const std::string url = "https://example.com/a";
  ASSERT_TRUE(cache.put(page(url, "the whole body")));

  write(entry(url, ".body"), "the whole bodY");  // same size, other bytes
  EXPECT_FALSE(cache.get(url));
  write(entry(url, ".body"), "the who");  // cut short
  EXPECT_FALSE(cache.get(url));
  fs::remove(entry(url, ".body"));
  EXPECT_FALSE(cache.get(url));

  ASSERT_TRUE(cache.put(page(url, "the whole body")));
  write(entry(url, ".json"), "{\"url\": \"https://exa");  // a sidecar cut short
  EXPECT_FALSE(cache.get(url));
  write(entry(url, ".json"), "[1, 2, 3]");
  EXPECT_FALSE(cache.get(url));
  write(entry(url, ".json"), "{\"url\": 5}");
  EXPECT_FALSE(cache.get(url));

  ASSERT_TRUE(cache.put(page(url, "fresh")));
  ASSERT_TRUE(cache.get(url));
  EXPECT_EQ(cache.get(url)->body, "fresh");
}

TEST_F(PageCacheTest, NoTempFilesLeftBehind) {
  PageCache cache(dir_);
  ASSERT_TRUE(cache.put(page("https://example.com/a")));
  ASSERT_TRUE(cache.put(page("https://example.com/a")));
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (!e.is_regular_file()) continue;
    ++files;
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(files, 2);  // .body and .json
}

TEST_F(PageCacheTest, MaxAge) {
  CachedPage old = page("https://example.com/old");
  old.fetched_at = std::time(nullptr) - 3600;
  {
    PageCache forever(dir_);
    ASSERT_TRUE(forever.put(old));
    EXPECT_TRUE(forever.get(old.url));
    EXPECT_FALSE(forever.get(old.url, 60.0));  // a lookup's own limit
    EXPECT_TRUE(forever.get(old.url, 7200.0));
  }
  PageCache minute(dir_, 60);
  EXPECT_FALSE(minute.get(old.url));
  EXPECT_TRUE(minute.get(old.url, 0.0));  // 0: forever
  ASSERT_TRUE(minute.put(page("https://example.com/new")));
  EXPECT_TRUE(minute.get("https://example.com/new"));
}

TEST_F(PageCacheTest, CreatesNestedDirectoryAndRefusesAFile) {
  const std::string nested = dir_ + "/a/b/c/";
  PageCache cache(nested);
  EXPECT_TRUE(fs::is_directory(dir_ + "/a/b/c"));
  EXPECT_TRUE(cache.put(page("https://example.com/")));

  write(dir_ + "/file", "x");
  try {
    PageCache bad(dir_ + "/file");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--cache-dir"), std::string::npos);
  }
}

}  // namespace
}  // namespace nagare
