#include "pipeline/url_resolve.h"

#include <algorithm>
#include <optional>

#include "util/ascii.h"

namespace nagare {
namespace {

// A URI reference split as RFC 3986 appendix B does; the optional parts remember whether they
// were present at all ("http://h/p?" has an empty query, "http://h/p" none).
struct UriParts {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;
};

bool is_scheme_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (first) return alpha;
  return alpha || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

UriParts split_uri(std::string_view s) {
  UriParts p;
  size_t i = 0;
  while (i < s.size() && is_scheme_char(s[i], i == 0)) ++i;
  if (i > 0 && i < s.size() && s[i] == ':') {
    std::string scheme(s.substr(0, i));
    for (char& c : scheme) c = ascii_lower(c);
    p.scheme = std::move(scheme);
    s.remove_prefix(i + 1);
  }
  if (s.starts_with("//")) {
    const size_t end = s.find_first_of("/?#", 2);
    p.authority = std::string(s.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2));
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  const size_t hash = s.find('#');
  if (hash != std::string_view::npos) {
    p.fragment = std::string(s.substr(hash + 1));
    s = s.substr(0, hash);
  }
  const size_t q = s.find('?');
  if (q != std::string_view::npos) {
    p.query = std::string(s.substr(q + 1));
    s = s.substr(0, q);
  }
  p.path = std::string(s);
  return p;
}

// RFC 3986 section 5.2.4, with a stack of segments instead of the in-place buffer rewrite.
std::string remove_dot_segments(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    const std::string_view rest = path.substr(i);
    if (rest.starts_with("../")) {
      i += 3;
    } else if (rest.starts_with("./")) {
      i += 2;
    } else if (rest.starts_with("/./")) {
      i += 2;
    } else if (rest == "/.") {
      out += '/';
      break;
    } else if (rest.starts_with("/../") || rest == "/..") {
      const size_t cut = out.rfind('/');
      out.resize(cut == std::string::npos ? 0 : cut);
      if (rest == "/..") {
        out += '/';
        break;
      }
      i += 3;
    } else if (rest == "." || rest == "..") {
      break;
    } else {
      const size_t next = path.find('/', i + (path[i] == '/' ? 1 : 0));
      const size_t end = next == std::string_view::npos ? path.size() : next;
      out.append(path.substr(i, end - i));
      i = end;
    }
  }
  return out;
}

std::string merge_paths(const UriParts& base, std::string_view ref_path) {
  if (base.authority && base.path.empty()) return "/" + std::string(ref_path);
  const size_t slash = base.path.rfind('/');
  if (slash == std::string::npos) return std::string(ref_path);
  return base.path.substr(0, slash + 1) + std::string(ref_path);
}

std::string join(const UriParts& p) {
  std::string out;
  if (p.scheme) out += *p.scheme + ":";
  if (p.authority) out += "//" + *p.authority;
  out += p.path;
  if (p.query) out += "?" + *p.query;
  if (p.fragment) out += "#" + *p.fragment;
  return out;
}

// What a browser does to an href before parsing it (WHATWG URL parser's first steps).
std::string clean_href(std::string_view href) {
  size_t b = 0, e = href.size();
  while (b < e && static_cast<unsigned char>(href[b]) <= 0x20) ++b;
  while (e > b && static_cast<unsigned char>(href[e - 1]) <= 0x20) --e;
  std::string out;
  out.reserve(e - b);
  for (size_t i = b; i < e; ++i)
    if (href[i] != '\t' && href[i] != '\n' && href[i] != '\r') out += href[i];
  return out;
}

bool is_http_like(const std::optional<std::string>& scheme) {
  return scheme && (*scheme == "http" || *scheme == "https");
}

}  // namespace

std::string resolve_href(std::string_view base_text, std::string_view href) {
  std::string ref_text = clean_href(href);
  UriParts ref = split_uri(ref_text);
  const UriParts base = split_uri(clean_href(base_text));
  // Browsers read '\' as '/' in the URLs of the web's schemes, relative references included.
  if (is_http_like(ref.scheme) || (!ref.scheme && is_http_like(base.scheme))) {
    const size_t stop = ref_text.find_first_of("?#");
    bool changed = false;
    for (size_t i = 0; i < std::min(stop, ref_text.size()); ++i)
      if (ref_text[i] == '\\') ref_text[i] = '/', changed = true;
    if (changed) ref = split_uri(ref_text);
  }
  if (!ref.scheme && !base.scheme) return ref_text;

  UriParts t;
  if (ref.scheme) {
    t = ref;
    t.path = remove_dot_segments(ref.path);
  } else {
    t.scheme = base.scheme;
    if (ref.authority) {
      t.authority = ref.authority;
      t.path = remove_dot_segments(ref.path);
      t.query = ref.query;
    } else {
      t.authority = base.authority;
      if (ref.path.empty()) {
        t.path = base.path;
        t.query = ref.query ? ref.query : base.query;
      } else {
        t.path = remove_dot_segments(ref.path.starts_with('/') ? ref.path : merge_paths(base, ref.path));
        t.query = ref.query;
      }
    }
    t.fragment = ref.fragment;
  }
  // http://host and http://host/ name the same resource; the second is what browsers show.
  if (is_http_like(t.scheme) && t.authority && t.path.empty()) t.path = "/";
  return join(t);
}

}  // namespace nagare
