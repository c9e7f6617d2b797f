#include "pipeline/html_boilerplate.h"

#include <algorithm>
#include <iterator>

#include "pipeline/html_tree.h"
#include "util/ascii.h"

namespace nagare {
namespace {

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alnum(char c) { return is_lower(c) || is_upper(c) || (c >= '0' && c <= '9'); }

template <size_t N>
bool one_of(std::string_view s, const std::string_view (&words)[N]) {
  return std::find(std::begin(words), std::end(words), s) != std::end(words);
}

template <size_t N>
bool starts_with_one_of(std::string_view s, const std::string_view (&prefixes)[N]) {
  return std::any_of(std::begin(prefixes), std::end(prefixes), [&](std::string_view p) { return s.starts_with(p); });
}

bool is_boilerplate_token(std::string_view t) {
  // Not "hidden": utility-class CSS writes "overflow-hidden" and "hidden md:block" on content.
  static constexpr std::string_view kWords[] = {
      "ad",         "ads",         "adv",        "advert",     "adverts",  "banner",     "banners",
      "breadcrumb", "breadcrumbs", "comment",    "comments",   "consent",  "cookie",     "cookies",
      "disqus",     "footer",      "gdpr",       "login",      "menu",       "menus",
      "modal",      "nav",         "navbar",     "navigation", "newsletter", "overlay",  "pager",
      "pagination", "paywall",     "popup",      "promo",      "promos",   "related",    "share",
      "shares",     "sharing",     "sidebar",    "signup",     "skip",     "social",     "toolbar"};
  // Compounds written without a separator ("cookiebar", "sharebuttons", "adslot").
  static constexpr std::string_view kPrefixes[] = {
      "adsby",     "adslot",   "adcontainer", "adwrap",  "advertis", "breadcrumb", "commentlist",
      "comments",  "cookie",   "consent",     "footer",  "navbar",   "navig",      "navmenu",
      "newsletter", "outbrain", "popup",      "promo",   "related",  "sharebar",   "sharebutton",
      "sharing",   "sidebar",  "skiplink",    "social",  "sponsor",  "taboola"};
  return one_of(t, kWords) || starts_with_one_of(t, kPrefixes);
}

// Calls `f` with each token of class_tokens(s), lowercased, without allocating (tokens past
// 40 characters are cut: no word tested is that long); stops at the first `f` that is true.
template <class F>
bool any_token(std::string_view s, F&& f) {
  char buf[40];
  size_t len = 0;
  auto flush = [&] {
    const bool hit = len > 0 && f(std::string_view(buf, len));
    len = 0;
    return hit;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!is_alnum(c)) {
      if (flush()) return true;
      continue;
    }
    if (is_upper(c) && i > 0 && is_lower(s[i - 1]) && flush()) return true;  // camelCase
    if (len < sizeof buf) buf[len++] = ascii_lower(c);
  }
  return flush();
}

bool names_boilerplate(const char* value, bool (*test)(std::string_view)) {
  return value && any_token(value, test);
}

bool is_header_token(std::string_view t) {
  static constexpr std::string_view kWords[] = {"header", "masthead", "topbar"};
  return one_of(t, kWords) || t.starts_with("header");
}

}  // namespace

bool is_non_content_element(const GumboElement& e) {
  if (e.tag == GUMBO_TAG_UNKNOWN) {
    // Gumbo 0.10 predates <dialog> and <search>: they come as unknown tags, named in the source.
    GumboStringPiece name = e.original_tag;
    gumbo_tag_from_original_text(&name);
    const std::string_view n(name.data ? name.data : "", name.data ? name.length : 0);
    return ascii_iequals(n, "dialog") || ascii_iequals(n, "search");
  }
  switch (e.tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_APPLET:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_INPUT:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_OPTION:
    case GUMBO_TAG_DATALIST:
    case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_KEYGEN:
    case GUMBO_TAG_OUTPUT:
    case GUMBO_TAG_PROGRESS:
    case GUMBO_TAG_METER:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_MENU:
    case GUMBO_TAG_AUDIO:
    case GUMBO_TAG_VIDEO:
    case GUMBO_TAG_SOURCE:
    case GUMBO_TAG_TRACK:
    case GUMBO_TAG_MAP:
    case GUMBO_TAG_FRAMESET:
    case GUMBO_TAG_FRAME:
    case GUMBO_TAG_NOFRAMES:
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_TITLE:
    case GUMBO_TAG_META:
    case GUMBO_TAG_LINK:
    case GUMBO_TAG_BASE:
    case GUMBO_TAG_RT:
    case GUMBO_TAG_RP:
      return true;
    default:
      return false;
  }
}

bool is_hidden_element(const GumboElement& e) {
  if (html::attribute(e, "hidden")) return true;
  if (const char* v = html::attribute(e, "aria-hidden"); v && ascii_iequals(v, "true")) return true;
  const char* style = html::attribute(e, "style");
  if (!style) return false;
  std::string s;
  for (const char* p = style; *p; ++p)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') s += ascii_lower(*p);
  return s.find("display:none") != std::string::npos || s.find("visibility:hidden") != std::string::npos;
}

bool has_boilerplate_role(const GumboElement& e) {
  static constexpr std::string_view kRoles[] = {
      "navigation", "banner", "contentinfo", "complementary", "search", "dialog",
      "alertdialog", "menu", "menubar", "toolbar", "tooltip"};
  const char* role = html::attribute(e, "role");
  if (!role) return false;
  // role may list fallbacks ("dialog alertdialog"): any one of them is enough.
  return any_token(role, [](std::string_view t) { return one_of(t, kRoles); });
}

std::vector<std::string> class_tokens(std::string_view s) {
  std::vector<std::string> tokens;
  any_token(s, [&](std::string_view t) {
    tokens.emplace_back(t);
    return false;
  });
  return tokens;
}

bool has_boilerplate_class(const GumboElement& e) {
  return names_boilerplate(html::attribute(e, "id"), is_boilerplate_token) ||
         names_boilerplate(html::attribute(e, "class"), is_boilerplate_token);
}

bool has_header_class(const GumboElement& e) {
  return names_boilerplate(html::attribute(e, "id"), is_header_token) ||
         names_boilerplate(html::attribute(e, "class"), is_header_token);
}

}  // namespace nagare
