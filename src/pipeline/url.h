// http(s) URLs for the extraction pipeline, parsed by libcurl's URL API: the parts, relative
// references resolved against a page, and the canonical form that deduplicates search results
// and keys the page cache.
#pragma once

#include <string>

namespace nagare {

struct Url {
  std::string href;      // the whole URL as libcurl writes it back: what to request
  std::string scheme;    // "http" or "https"
  std::string host;      // ASCII letters lowercased; an IPv6 literal keeps its brackets: "[::1]"
  int port = 0;          // the port connected to: the URL's, else 80 or 443
  std::string path;      // "/" at least; percent-encoded as it goes on the wire
  std::string query;     // without the '?'; "" when none
  std::string fragment;  // without the '#'; "" when none

  // Throws nagare::Error naming the URL when it is not an absolute http or https URL. Spaces
  // and non-ASCII characters in the path and query are percent-encoded rather than refused.
  static Url parse(const std::string& text);

  bool default_port() const { return port == (scheme == "https" ? 443 : 80); }
  std::string origin() const;  // as origin() below
  std::string path_and_query() const { return query.empty() ? path : path + "?" + query; }
};

// The form two links to the same page share: scheme and host lowercased, the default port and
// the fragment dropped, tracking parameters (utm_*, fbclid, gclid, mc_cid, mc_eid, ref_src)
// dropped with the others kept in order, an empty path made "/", dot segments removed, and
// percent-escapes normalized (unreserved characters decoded, hex digits lowercased as libcurl
// writes them).
// Throws nagare::Error as Url::parse does.
std::string canonical_url(const std::string& url);

// `ref` (an href: absolute, relative, "?q", "#frag" or "") resolved against the page URL `base`,
// per RFC 3986 section 5. Throws nagare::Error when the result is not an http(s) URL, e.g. for
// "mailto:" or "javascript:" links.
std::string resolve_url(const std::string& base, const std::string& ref);

// "scheme://host[:port]" (the port only when not the default): what robots.txt is per.
std::string origin(const std::string& url);

}  // namespace nagare
