#include "pipeline/page_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "pipeline/url.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return std::nullopt;
  return data;
}

// A temp file beside `path`, then rename(): a reader sees the old file or the new, never a part.
bool write_atomically(const std::string& path, const std::string& data) {
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = std::fclose(f) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

bool make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  return false;
}

}  // namespace

PageCache::PageCache(std::string dir, double max_age_s) : dir_(std::move(dir)), max_age_s_(max_age_s) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  // Parents too, like mkdir -p: --cache-dir ~/.cache/nagare/pages on a fresh machine.
  for (size_t slash = dir_.find('/', 1); slash != std::string::npos; slash = dir_.find('/', slash + 1))
    make_dir(dir_.substr(0, slash));
  if (!make_dir(dir_))
    throw Error("--cache-dir " + dir_ + ": cannot create the page cache directory (" + std::strerror(errno) + ")");
}

std::string PageCache::key(const std::string& url) { return sha256_hex(canonical_url(url)); }

std::string PageCache::entry_path(const std::string& key) const { return dir_ + "/" + key.substr(0, 2) + "/" + key; }

std::optional<CachedPage> PageCache::get(const std::string& url, std::optional<double> max_age_s) const {
  std::string path;
  try {
    path = entry_path(key(url));
  } catch (const Error&) {
    return std::nullopt;
  }
  const auto sidecar = read_file(path + ".json");
  if (!sidecar) return std::nullopt;
  CachedPage page;
  std::string digest;
  size_t size = 0;
  try {
    const auto j = nlohmann::json::parse(*sidecar);
    page.url = j.at("url").get<std::string>();
    page.final_url = j.at("final_url").get<std::string>();
    page.status = j.at("status").get<long>();
    page.content_type = j.at("content_type").get<std::string>();
    page.fetched_at = j.at("fetched_at").get<int64_t>();
    size = j.at("size").get<size_t>();
    digest = j.at("sha256").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  const double limit = max_age_s.value_or(max_age_s_);
  if (limit > 0 && double(std::time(nullptr) - page.fetched_at) > limit) return std::nullopt;
  auto body = read_file(path + ".body");
  if (!body || body->size() != size || sha256_hex(*body) != digest) return std::nullopt;
  page.body = std::move(*body);
  return page;
}

bool PageCache::put(const CachedPage& page) {
  std::string path;
  try {
    path = entry_path(key(page.url));
  } catch (const Error&) {
    return false;
  }
  if (!make_dir(path.substr(0, path.rfind('/')))) return false;
  const nlohmann::json j = {
      {"url", page.url},
      {"final_url", page.final_url},
      {"status", page.status},
      {"content_type", page.content_type},
      {"fetched_at", page.fetched_at ? page.fetched_at : int64_t(std::time(nullptr))},
      {"size", page.body.size()},
      {"sha256", sha256_hex(page.body)},
  };
  // Body first: until the new sidecar lands, the old one's digest marks the entry as a miss.
  return write_atomically(path + ".body", page.body) && write_atomically(path + ".json", j.dump(2) + "\n");
}

}  // namespace nagare
