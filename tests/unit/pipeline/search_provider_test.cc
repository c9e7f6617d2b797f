// The search providers: each API's documented JSON (results, error objects, missing fields),
// query encoding, the urls: list, the --search spec, and the HTTP path against a loopback server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "pipeline/fetcher.h"
#include "pipeline/search_provider.h"
#include "pipeline/search_urls.h"
#include "pipeline/search_web.h"
#include "util/error.h"

namespace nagare {
namespace {

// A loopback HTTP/1.1 server answering each request (one per connection) with what the test's
// handler returns, and keeping the requests it saw.
class LoopbackServer {
 public:
  struct Request {
    std::string target;                          // "/search?q=...", as sent
    std::map<std::string, std::string> headers;  // names lowercased
  };
  struct Response {
    int status = 200;
    std::string body;
  };
  explicit LoopbackServer(std::function<Response(const Request&)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0) throw std::runtime_error("listen");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void loop() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0 || stop_) {
        if (c >= 0) ::close(c);
        return;
      }
      serve(c);
      ::close(c);
    }
  }
  void serve(int c) {
    std::string raw;
    char buf[4096];
    while (raw.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      raw.append(buf, size_t(n));
    }
    Request req;
    const size_t sp = raw.find(' ');
    req.target = raw.substr(sp + 1, raw.find(' ', sp + 1) - sp - 1);
    for (size_t at = raw.find("\r\n") + 2; at < raw.find("\r\n\r\n");) {
      const size_t end = raw.find("\r\n", at);
      const std::string line = raw.substr(at, end - at);
      std::string name = line.substr(0, line.find(':'));
      for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      req.headers[name] = line.substr(line.find(':') + 2);
      at = end + 2;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(req);
    }
    const Response r = handler_(req);
    const std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  std::function<Response(const Request&)> handler_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

FetchOptions loopback_options() {
  FetchOptions o;
  o.allow_private = true;
  o.timeout_s = 10;
  return o;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Sets an environment variable for one test.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }
  const char* name_;
  std::string old_;
  bool had_ = false;
};

const char* kJapanese = "東京 人口";
const char* kJapaneseEncoded = "%E6%9D%B1%E4%BA%AC%20%E4%BA%BA%E5%8F%A3";

TEST(SearchWeb, PercentEncodesUtf8AndReservedCharacters) {
  EXPECT_EQ(percent_encode(kJapanese), kJapaneseEncoded);
  EXPECT_EQ(percent_encode("a&b=c+d#e?f/g"), "a%26b%3Dc%2Bd%23e%3Ff%2Fg");
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("100%"), "100%25");
}

TEST(SearchWeb, HtmlFragmentTextDropsTagsAndDecodesEntities) {
  EXPECT_EQ(html_fragment_text("The <strong>Tokyo</strong> &amp; Osaka&nbsp;guide &lt;b&gt; &#x6771;&#20140; &quot;x&quot; &#39;y&#39;"),
            "The Tokyo & Osaka guide <b> 東京 \"x\" 'y'");
  EXPECT_EQ(html_fragment_text("  plain\n text  "), "plain text");
  EXPECT_EQ(html_fragment_text(""), "");
}

TEST(SearchWeb, ParsesSearxngResults) {
  const std::string body = R"({"query": "tokyo", "number_of_results": 0, "results": [
    {"url": "https://a.example/1", "title": "One", "content": "first  snippet\n", "engine": "duckduckgo", "score": 3.0},
    {"url": "magnet:?xt=urn:btih:abc", "title": "torrent", "content": ""},
    {"title": "no url"},
    {"url": "https://a.example/1", "title": "One again", "content": "dup"},
    {"url": "http://b.example/2", "content": "no title", "title": null},
    {"url": "https://c.example/3", "title": "x<y & Q&amp;A", "content": "third"}
  ], "answers": [], "suggestions": [], "unresponsive_engines": []})";
  const auto r = parse_searxng_response(body, 10, "searxng:x");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].url, "https://a.example/1");
  EXPECT_EQ(r[0].title, "One");
  EXPECT_EQ(r[0].snippet, "first snippet");
  EXPECT_TRUE(r[0].content.empty());
  EXPECT_EQ(r[1].url, "http://b.example/2");
  EXPECT_EQ(r[1].title, "");
  EXPECT_EQ(r[2].url, "https://c.example/3");
  EXPECT_EQ(r[2].title, "x<y & Q&amp;A");  // plain text: nothing decoded
  EXPECT_EQ(parse_searxng_response(body, 2, "s").size(), 2u);
  EXPECT_TRUE(parse_searxng_response(R"({"query": "q", "results": []})", 5, "s").empty());
}

TEST(SearchWeb, SearxngBadAnswersNameTheProvider) {
  EXPECT_NE(error_of([] { parse_searxng_response("<html>oops</html>", 5, "searxng:http://h"); }).find("searxng:http://h"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_searxng_response(R"({"query": "q"})", 5, "searxng:http://h"); }).find("results"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_searxng_response("[1, 2]", 5, "s"); }).find("not the API's JSON"), std::string::npos);
}

TEST(SearchWeb, ParsesSerpApiOrganicResults) {
  const std::string body = R"({"search_metadata": {"status": "Success"}, "organic_results": [
    {"position": 1, "title": "Coffee - Wikipedia", "link": "https://en.wikipedia.org/wiki/Coffee", "snippet": "Coffee is a beverage", "displayed_link": "x"},
    {"position": 2, "title": "No link"},
    {"position": 3, "title": "NCA", "link": "https://www.ncausa.org/", "snippet": 42}
  ]})";
  const auto r = parse_serpapi_response(body, 10, "serpapi");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].url, "https://en.wikipedia.org/wiki/Coffee");
  EXPECT_EQ(r[0].title, "Coffee - Wikipedia");
  EXPECT_EQ(r[0].snippet, "Coffee is a beverage");
  EXPECT_EQ(r[1].snippet, "");
  EXPECT_TRUE(parse_serpapi_response(R"({"search_metadata": {}})", 10, "serpapi").empty());
  // An empty page is reported in "error" too; it is no failure.
  EXPECT_TRUE(parse_serpapi_response(R"({"error": "Google hasn't returned any results for this query."})", 10, "s").empty());
  EXPECT_EQ(error_of([] { parse_serpapi_response(R"({"error": "Your account has run out of searches."})", 10, "serpapi"); }),
            "serpapi: Your account has run out of searches.");
}

TEST(SearchWeb, ParsesBraveWebResults) {
  const std::string body = R"({"type": "search", "query": {"original": "brave"}, "web": {"type": "search", "results": [
    {"title": "Brave <strong>Search</strong> API", "url": "https://brave.com/search/api/",
     "description": "Power your <strong>agents</strong> &amp; chatbots&#39; search", "extra_snippets": []},
    {"title": "no url", "description": "x"}
  ]}})";
  const auto r = parse_brave_response(body, 10, "brave");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].title, "Brave Search API");
  EXPECT_EQ(r[0].snippet, "Power your agents & chatbots' search");
  EXPECT_TRUE(parse_brave_response(R"({"type": "search", "query": {"original": "x"}})", 10, "brave").empty());
  const std::string err = R"({"type": "ErrorResponse", "error": {"id": "1", "status": 422, "code": "SUBSCRIPTION_TOKEN_INVALID",
    "detail": "The provided subscription token is invalid."}})";
  EXPECT_EQ(error_of([&] { parse_brave_response(err, 10, "brave"); }),
            "brave: The provided subscription token is invalid. [SUBSCRIPTION_TOKEN_INVALID]");
}

TEST(SearchWeb, ApiErrorMessageShapes) {
  EXPECT_EQ(api_error_message(R"({"error": "Invalid API key."})"), "Invalid API key.");
  EXPECT_EQ(api_error_message(R"({"error": {"code": "RATE_LIMITED"}})"), "RATE_LIMITED");
  EXPECT_EQ(api_error_message(R"({"message": "nope"})"), "nope");
  EXPECT_EQ(api_error_message("<html>403 Forbidden</html>"), "");
}

TEST(SearchUrls, ParsesTheList) {
  const auto urls = parse_url_list(
      "\xEF\xBB\xBF# sources\r\nhttps://a.example/1\r\n\n   \n  http://b.example/2  \n# https://skipped.example\n"
      "https://a.example/1\nhttps://c.example/3",
      "urls:f");
  EXPECT_EQ(urls, (std::vector<std::string>{"https://a.example/1", "http://b.example/2", "https://c.example/3"}));
  EXPECT_EQ(error_of([] { parse_url_list("https://ok.example\n\nftp://x.example/file\n", "urls:list.txt"); }),
            "urls:list.txt line 3: 'ftp://x.example/file' is not an http(s) URL (one URL a line; # starts a comment line)");
  EXPECT_NE(error_of([] { parse_url_list("https://a.example/x y\n", "u"); }).find("line 1"), std::string::npos);
}

TEST(SearchUrls, EveryQueryGetsTheWholeList) {
  const auto path = std::filesystem::temp_directory_path() / ("nagare_urls_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(path) << "# corpus\nhttps://a.example/1\nhttps://b.example/2\nhttps://c.example/3\n";
  UrlListSearch s(path.string());
  EXPECT_EQ(s.name(), "urls:" + path.string());
  for (const char* q : {"tokyo", "東京 人口", ""}) {
    const auto r = s.search(q, 1);  // count is ignored: the list is the corpus
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[2].url, "https://c.example/3");
    EXPECT_TRUE(r[0].content.empty());
  }
  std::ofstream(path) << "# nothing\n\n";
  EXPECT_NE(error_of([&] { UrlListSearch{path.string()}; }).find("no URLs"), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_NE(error_of([&] { UrlListSearch{path.string()}; }).find("cannot read"), std::string::npos);
}

TEST(SearchProviderSpec, ParsesSpecsAndNamesMissingKeys) {
  Fetcher fetcher(loopback_options());
  EXPECT_EQ(make_search_provider("searxng:http://127.0.0.1:8888", fetcher)->name(), "searxng:http://127.0.0.1:8888");
  EXPECT_NE(error_of([&] { make_search_provider("searxng:", fetcher); }).find("searxng:URL"), std::string::npos);
  EXPECT_NE(error_of([&] { make_search_provider("searxng:localhost:8888", fetcher); }).find("http(s) URL"), std::string::npos);
  EXPECT_NE(error_of([&] { make_search_provider("google", fetcher); }).find("searxng:URL, serpapi"), std::string::npos);
  EXPECT_NE(error_of([&] { make_search_provider("local:/nonexistent/dir/index.db", fetcher); }).find("cannot open the index"),
            std::string::npos);
  {
    ScopedEnv key("SERPAPI_API_KEY", nullptr);
    EXPECT_NE(error_of([&] { make_search_provider("serpapi", fetcher); }).find("set SERPAPI_API_KEY"), std::string::npos);
  }
  {
    ScopedEnv key("BRAVE_API_KEY", "");
    EXPECT_NE(error_of([&] { make_search_provider("brave", fetcher); }).find("set BRAVE_API_KEY"), std::string::npos);
  }
  ScopedEnv key("SERPAPI_API_KEY", "k"), endpoint("NAGARE_SERPAPI_ENDPOINT", nullptr);
  EXPECT_EQ(make_search_provider("serpapi", fetcher)->name(), "serpapi");
}

TEST(SearchWeb, SearxngOverHttp) {
  LoopbackServer server([](const LoopbackServer::Request& r) -> LoopbackServer::Response {
    if (r.target.find("format=html") != std::string::npos) return {403, "<html>Forbidden</html>"};
    return {200, R"({"query": "東京 人口", "number_of_results": 0, "results": [
      {"url": "https://ja.example/tokyo", "title": "東京都の人口", "content": "東京都の人口は約1400万人"}]})"};
  });
  Fetcher fetcher(loopback_options());
  auto provider = make_search_provider("searxng:" + server.url("/?language=ja"), fetcher);
  const auto r = provider->search(kJapanese, 5);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].title, "東京都の人口");
  EXPECT_EQ(r[0].snippet, "東京都の人口は約1400万人");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, std::string("/search?q=") + kJapaneseEncoded + "&format=json&language=ja");
  EXPECT_EQ(server.requests()[0].headers["accept"], "application/json");

  // An instance without the JSON format answers 403.
  SearxngSearch no_json(server.url("/search?format=html"), fetcher);
  EXPECT_EQ(no_json.request_url("x"), server.url("/search?q=x&format=json&format=html"));
  const std::string e = error_of([&] { no_json.search("x", 5); });
  EXPECT_NE(e.find("searxng:" + server.url()), std::string::npos) << e;
  EXPECT_NE(e.find("HTTP 403"), std::string::npos) << e;
  EXPECT_NE(e.find("search.formats"), std::string::npos) << e;
}

TEST(SearchWeb, SerpApiOverHttpKeepsTheKeyOutOfErrors) {
  LoopbackServer server([](const LoopbackServer::Request& r) -> LoopbackServer::Response {
    if (r.target.find("api_key=good%2Bkey") == std::string::npos)
      return {401, R"({"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"})"};
    return {200, R"({"organic_results": [{"position": 1, "title": "T", "link": "https://t.example/", "snippet": "S"}]})"};
  });
  Fetcher fetcher(loopback_options());
  ScopedEnv endpoint("NAGARE_SERPAPI_ENDPOINT", server.url("/search.json").c_str());
  {
    ScopedEnv key("SERPAPI_API_KEY", "good+key");
    auto provider = make_search_provider("serpapi", fetcher);
    EXPECT_EQ(provider->name(), "serpapi:" + server.url("/search.json"));
    const auto r = provider->search(kJapanese, 7);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].url, "https://t.example/");
    EXPECT_EQ(server.requests().back().target,
              std::string("/search.json?engine=google&q=") + kJapaneseEncoded + "&num=7&api_key=good%2Bkey");
  }
  ScopedEnv key("SERPAPI_API_KEY", "secret-key-123");
  const std::string e = error_of([&] { make_search_provider("serpapi", fetcher)->search("x", 3); });
  EXPECT_NE(e.find("HTTP 401"), std::string::npos) << e;
  EXPECT_NE(e.find("Invalid API key"), std::string::npos) << e;
  EXPECT_NE(e.find("SERPAPI_API_KEY"), std::string::npos) << e;
  EXPECT_EQ(e.find("secret-key-123"), std::string::npos) << e;
}

TEST(SearchWeb, BraveOverHttpSendsTheToken) {
  LoopbackServer server([](const LoopbackServer::Request& r) -> LoopbackServer::Response {
    auto token = r.headers.find("x-subscription-token");
    if (token == r.headers.end() || token->second != "tok")
      return {422, R"({"type": "ErrorResponse", "error": {"status": 422, "code": "SUBSCRIPTION_TOKEN_INVALID", "detail": "The provided subscription token is invalid."}})"};
    return {200, R"({"type": "search", "web": {"results": [{"title": "<strong>T</strong>", "url": "https://t.example/", "description": "a &amp; b"}]}})"};
  });
  Fetcher fetcher(loopback_options());
  ScopedEnv endpoint("NAGARE_BRAVE_ENDPOINT", server.url("/res/v1/web/search").c_str());
  {
    ScopedEnv key("BRAVE_API_KEY", "tok");
    const auto r = make_search_provider("brave", fetcher)->search(kJapanese, 50);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].title, "T");
    EXPECT_EQ(r[0].snippet, "a & b");
    const auto req = server.requests().back();
    EXPECT_EQ(req.target, std::string("/res/v1/web/search?q=") + kJapaneseEncoded + "&count=20");  // 20 at most
    EXPECT_EQ(req.headers.at("accept"), "application/json");
  }
  ScopedEnv key("BRAVE_API_KEY", "wrong");
  const std::string e = error_of([&] { make_search_provider("brave", fetcher)->search("x", 3); });
  EXPECT_NE(e.find("HTTP 422: The provided subscription token is invalid. [SUBSCRIPTION_TOKEN_INVALID]"), std::string::npos) << e;
  EXPECT_NE(e.find("BRAVE_API_KEY"), std::string::npos) << e;
}

TEST(SearchWeb, UnreachableInstanceIsAnError) {
  Fetcher fetcher(loopback_options());
  int port;
  {
    LoopbackServer gone([](const LoopbackServer::Request&) { return LoopbackServer::Response{}; });
    port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
  }
  SearxngSearch s("http://127.0.0.1:" + std::to_string(port), fetcher);
  const std::string e = error_of([&] { s.search("x", 3); });
  EXPECT_NE(e.find("searxng:http://127.0.0.1:" + std::to_string(port) + ": the search request failed"), std::string::npos) << e;
}

}  // namespace
}  // namespace nagare
