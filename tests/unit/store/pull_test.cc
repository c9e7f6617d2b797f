// pull against a small HTTP server in the test: pull sources, downloads that resume (Range, 206),
// restart (a 200 to a Range request, a 416), retry after a cut connection, stop when cancelled,
// and two pulls of one file in one process sharing one download. The pytest suite
// (tests/api/test_pull.py) runs the same against nginx, the Hub's layout and a full disk.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "store/pull.h"
#include "store_test_util.h"
#include "test_http_server.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

using testing::files_in;
using testing::TempDir;
using testing::TestHttpServer;
using testing::tiny_gguf;

constexpr auto kHang = std::chrono::seconds(60);  // turns a hang into a failure, never a result

std::string partial_name(const std::string& url) { return "partial-url-" + sha256_hex(url).substr(0, 32); }

TEST(PullSource, Forms) {
  auto a = parse_pull_source("hf.co/bartowski/SmolLM2-GGUF");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, PullSource::Kind::kHubRepo);
  EXPECT_EQ(a->owner, "bartowski");
  EXPECT_EQ(a->repo, "SmolLM2-GGUF");
  EXPECT_EQ(a->quant, "");
  EXPECT_EQ(a->name.display(), "hf.co/bartowski/SmolLM2-GGUF:latest");

  auto b = parse_pull_source("huggingface.co/o/r:Q4_1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->quant, "Q4_1");
  EXPECT_EQ(b->name.display(), "hf.co/o/r:Q4_1");

  auto c = parse_pull_source("hf.co/o/r/sub/Model-Q8_0.gguf");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, PullSource::Kind::kHubFile);
  EXPECT_EQ(c->file, "sub/Model-Q8_0.gguf");
  EXPECT_EQ(c->name.display(), "hf.co/o/r:Model-Q8_0");

  EXPECT_THROW(parse_pull_source("https://example.com/models/SmolLM2 135M.Q4_1.gguf"), Error);  // a space
}

TEST(PullSource, UrlsAndRefusals) {
  auto u = parse_pull_source("https://example.com/models/SmolLM2-135M.Q4_1.gguf?download=true");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, PullSource::Kind::kUrl);
  EXPECT_EQ(u->name.display(), "smollm2-135m.q4_1:latest");
  EXPECT_FALSE(parse_pull_source("smollm2"));  // a local name: nothing to pull it from
  EXPECT_FALSE(parse_pull_source("me/model:tag"));
  for (const char* bad : {"hf.co/owner", "hf.co/o/r/../../../x.gguf", "hf.co/o/r/file.bin", "hf.co/../r",
                          "hf.co/o/r/a\\b.gguf", "http://example.com", "http://example.com/", "hf.co/o/r:",
                          "ftp://example.com/m.gguf", "file:///etc/passwd"})
    EXPECT_THROW(parse_pull_source(bad), Error) << bad;
}

class PullTest : public ::testing::Test {
 protected:
  TempDir tmp;
  ModelStore store{tmp / "models"};
  std::string body = tiny_gguf(7, 64 * 1024);  // 256 KiB
  std::string sha = sha256_hex(body);
  TestHttpServer server{body};

  std::vector<std::string> blob_files() { return files_in(store.blobs_dir()); }
  void expect_only_the_blob() {
    EXPECT_EQ(blob_files(), std::vector<std::string>{"sha256-" + sha});
    EXPECT_EQ(testing::read_file(store.blobs_dir() + "/sha256-" + sha), body);
  }
};

TEST_F(PullTest, Url) {
  PullResult r = pull_model(store, server.url());
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.bytes_downloaded, body.size());
  EXPECT_EQ(r.model.name.display(), "file:latest");
  EXPECT_EQ(r.model.manifest.weights_digest, "sha256:" + sha);
  EXPECT_EQ(r.model.manifest.source, server.url());
  expect_only_the_blob();
  // Pulled again: the same name from the same URL is not downloaded again.
  EXPECT_FALSE(pull_model(store, server.url()).downloaded);
  EXPECT_EQ(server.gets(), 1);
}

TEST_F(PullTest, ResumesAPartialDownload) {
  testing::write_file(store.blobs_dir() + "/" + partial_name(server.url()), body.substr(0, 1000));
  PullResult r = pull_model(store, server.url());
  EXPECT_EQ(server.ranges(), std::vector<std::string>{"bytes=1000-"});
  EXPECT_EQ(r.bytes_downloaded, body.size() - 1000);
  expect_only_the_blob();
}

TEST_F(PullTest, RestartsWhenTheServerIgnoresRange) {
  server.set_range_support(false);
  testing::write_file(store.blobs_dir() + "/" + partial_name(server.url()), "GGUF-not-the-same-bytes");
  pull_model(store, server.url());
  EXPECT_EQ(server.ranges(), std::vector<std::string>{"bytes=23-"});  // asked, got a 200, took it
  expect_only_the_blob();
}

TEST_F(PullTest, RestartsAfter416) {
  testing::write_file(store.blobs_dir() + "/" + partial_name(server.url()), body + "extra");
  pull_model(store, server.url());
  EXPECT_EQ(server.ranges(), (std::vector<std::string>{"bytes=" + std::to_string(body.size() + 5) + "-", ""}));
  expect_only_the_blob();
}

TEST_F(PullTest, ResumesAfterACutConnectionInTheSamePull) {
  server.cut_once_after(100000);
  pull_model(store, server.url());
  EXPECT_EQ(server.ranges(), (std::vector<std::string>{"", "bytes=100000-"}));
  expect_only_the_blob();
}

TEST_F(PullTest, NotFoundAndNotGguf) {
  try {
    pull_model(store, server.url("/missing.gguf"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not found (HTTP 404 from " + server.url("/missing.gguf") + ")"),
              std::string::npos) << e.what();
  }
  EXPECT_TRUE(blob_files().empty());
  EXPECT_TRUE(store.list().empty());

  TestHttpServer html("<!DOCTYPE html><html>a sign-in page</html>");
  try {
    pull_model(store, html.url());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a GGUF file (it starts with '<!DOCTYPE html><html>a s')"),
              std::string::npos) << e.what();
  }
  EXPECT_TRUE(blob_files().empty());

  // A GGUF header on a broken body: the full check after the download catches it.
  TestHttpServer cut(body.substr(0, 5000));
  EXPECT_THROW(pull_model(store, cut.url()), Error);
  EXPECT_TRUE(blob_files().empty());
  EXPECT_TRUE(store.list().empty());
}

TEST_F(PullTest, CancelKeepsThePartialForTheNextPull) {
  server.hold_after(1000);
  std::atomic<bool> cancel{false};
  PullOptions o;
  o.cancel = &cancel;
  std::thread t([&] {
    try {
      pull_model(store, server.url(), o);
      ADD_FAILURE() << "the pull was not cancelled";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
    }
  });
  // The server holds the rest back: wait for the partial file to hold what it sent.
  const std::string partial = store.blobs_dir() + "/" + partial_name(server.url());
  const auto deadline = std::chrono::steady_clock::now() + kHang;
  std::error_code ec;
  while (std::filesystem::file_size(partial, ec) != 1000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(std::filesystem::file_size(partial, ec), 1000u) << "the first 1000 bytes never arrived";
  cancel = true;
  server.release();
  t.join();
  EXPECT_EQ(blob_files(), std::vector<std::string>{partial_name(server.url())});
  EXPECT_TRUE(store.list().empty());
  pull_model(store, server.url());
  EXPECT_EQ(server.ranges(), (std::vector<std::string>{"", "bytes=1000-"}));
  expect_only_the_blob();
}

TEST_F(PullTest, TwoPullsInOneProcessShareOneDownload) {
  server.hold_after(1000);
  std::mutex mu;
  std::condition_variable cv;
  int waiting = 0;
  uint64_t verified[2] = {0, 0};  // bytes each pull saw verified: the follower sees the leader's progress
  std::vector<PullOptions> opts(2);
  for (int i = 0; i < 2; ++i)
    opts[i].progress = [&, i](const PullProgress& p) {
      std::lock_guard<std::mutex> l(mu);
      if (p.phase == PullProgress::Phase::kVerifying) verified[i] = p.done;
      if (p.phase != PullProgress::Phase::kWaiting) return;
      ++waiting;
      cv.notify_all();
    };
  std::vector<PullResult> results(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&, i] { results[i] = pull_model(store, server.url(), opts[i]); });
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, kHang, [&] { return waiting >= 1; })) << "neither pull waited for the other";
  }
  server.release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(server.gets(), 1);
  EXPECT_EQ(results[0].downloaded + results[1].downloaded, 1);
  EXPECT_EQ(verified[0], body.size());
  EXPECT_EQ(verified[1], body.size());
  EXPECT_EQ(results[0].model.manifest.weights_digest, results[1].model.manifest.weights_digest);
  expect_only_the_blob();
}

}  // namespace
}  // namespace nagare
