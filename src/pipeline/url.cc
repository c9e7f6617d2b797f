#include "pipeline/url.h"

#include <curl/curl.h>

#include <cstdlib>
#include <string_view>

#include "util/ascii.h"
#include "util/error.h"

namespace nagare {
namespace {

// A CURLU handle that frees itself; parts are read back as std::string.
class CurlUrl {
 public:
  CurlUrl() : h_(curl_url()) {
    if (!h_) throw Error("libcurl could not allocate a URL");
  }
  CurlUrl(const CurlUrl& other) : h_(curl_url_dup(other.h_)) {
    if (!h_) throw Error("libcurl could not allocate a URL");
  }
  CurlUrl& operator=(const CurlUrl&) = delete;
  ~CurlUrl() { curl_url_cleanup(h_); }

  CURLUcode set(CURLUPart part, const std::string& value, unsigned flags = 0) {
    return curl_url_set(h_, part, value.c_str(), flags);
  }
  void clear(CURLUPart part) { curl_url_set(h_, part, nullptr, 0); }
  // "" for a part the URL does not have (no query, no fragment).
  std::string get(CURLUPart part, unsigned flags = 0) const {
    char* out = nullptr;
    if (curl_url_get(h_, part, &out, flags) != CURLUE_OK || !out) return "";
    std::string s(out);
    curl_free(out);
    return s;
  }

 private:
  CURLU* h_;
};

std::string trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

void check_scheme(const CurlUrl& u, const std::string& text) {
  const std::string scheme = u.get(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https")
    throw Error("'" + text + "' is not an http or https URL");
}

// Parses an absolute URL; spaces and non-ASCII are percent-encoded rather than refused.
CurlUrl parse_handle(const std::string& text) {
  CurlUrl u;
  const CURLUcode rc = u.set(CURLUPART_URL, trim(text), CURLU_URLENCODE);
  if (rc != CURLUE_OK) throw Error("'" + text + "' is not a URL (" + curl_url_strerror(rc) + ")");
  check_scheme(u, text);
  return u;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// RFC 3986 6.2.2.2: "%7e" and "~" are the same URL, "%2f" and "%2F" too; "%2F" and "/" are not.
// Hex digits come out lowercase, as libcurl writes them when a part is set.
std::string normalize_escapes(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
      const unsigned char c = static_cast<unsigned char>(hi * 16 + lo);
      if (unreserved(c)) {
        out += char(c);
      } else {
        out += '%';
        out += kHex[hi];
        out += kHex[lo];
      }
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool tracking_parameter(std::string_view param) {
  const std::string_view name = param.substr(0, param.find('='));
  if (name.size() >= 4 && ascii_iequals(name.substr(0, 4), "utm_")) return true;
  for (std::string_view t : {"fbclid", "gclid", "mc_cid", "mc_eid", "ref_src"})
    if (ascii_iequals(name, t)) return true;
  return false;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = ascii_lower(c);
  return s;
}

}  // namespace

Url Url::parse(const std::string& text) {
  const CurlUrl u = parse_handle(text);
  Url url;
  url.href = u.get(CURLUPART_URL);
  url.scheme = u.get(CURLUPART_SCHEME);
  url.host = lower_ascii(u.get(CURLUPART_HOST));
  url.port = std::atoi(u.get(CURLUPART_PORT, CURLU_DEFAULT_PORT).c_str());
  url.path = u.get(CURLUPART_PATH);
  if (url.path.empty()) url.path = "/";
  url.query = u.get(CURLUPART_QUERY);
  url.fragment = u.get(CURLUPART_FRAGMENT);
  return url;
}

std::string canonical_url(const std::string& url) {
  CurlUrl u = parse_handle(url);
  u.set(CURLUPART_HOST, lower_ascii(u.get(CURLUPART_HOST)));
  std::string path = normalize_escapes(u.get(CURLUPART_PATH));
  u.set(CURLUPART_PATH, path.empty() ? "/" : path);
  u.clear(CURLUPART_FRAGMENT);

  const std::string query = u.get(CURLUPART_QUERY);
  std::string kept;
  for (size_t start = 0; start <= query.size();) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string_view param = std::string_view(query).substr(start, end - start);
    if (!param.empty() && !tracking_parameter(param)) {
      if (!kept.empty()) kept += '&';
      kept += normalize_escapes(param);
    }
    start = end + 1;
  }
  if (kept.empty()) u.clear(CURLUPART_QUERY);
  else u.set(CURLUPART_QUERY, kept);
  // The scheme comes back lowercase from libcurl whatever the input's case.
  return u.get(CURLUPART_URL, CURLU_NO_DEFAULT_PORT);
}

std::string resolve_url(const std::string& base, const std::string& ref) {
  CurlUrl u = parse_handle(base);
  const std::string r = trim(ref);
  // libcurl 7.88 resolves "" and "#frag" against the base's directory; RFC 3986 keeps the
  // whole base (path and query) for both.
  if (r.empty() || r[0] == '#') {
    u.clear(CURLUPART_FRAGMENT);
    if (r.size() > 1) u.set(CURLUPART_FRAGMENT, r.substr(1), CURLU_URLENCODE);
    return u.get(CURLUPART_URL);
  }
  const CURLUcode rc = u.set(CURLUPART_URL, r, CURLU_URLENCODE);
  if (rc != CURLUE_OK) throw Error("'" + ref + "' is not a link to an http or https URL (" + curl_url_strerror(rc) + ")");
  check_scheme(u, ref);
  return u.get(CURLUPART_URL);
}

std::string Url::origin() const { return scheme + "://" + host + (default_port() ? "" : ":" + std::to_string(port)); }

std::string origin(const std::string& url) { return Url::parse(url).origin(); }

}  // namespace nagare
