#include "pipeline/robots_txt.h"

#include "util/ascii.h"

namespace nagare {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Patterns and paths are compared as octets with every escape decoded: RFC 9309 2.2.2's
// examples have "/foo/bar/%62%61%7A" match "/foo/bar/baz", "%3A%2F%2F" match "://", and a raw
// UTF-8 pattern match its escaped form.
std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
      out += char(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The product token a User-agent line names: its leading letters, '-' and '_' ("Googlebot/2.1"
// names "Googlebot"); "*" for the wildcard.
std::string_view agent_token(std::string_view value) {
  if (!value.empty() && value[0] == '*') return "*";
  size_t n = 0;
  while (n < value.size() && ((value[n] >= 'a' && value[n] <= 'z') || (value[n] >= 'A' && value[n] <= 'Z') ||
                              value[n] == '-' || value[n] == '_'))
    ++n;
  return value.substr(0, n);
}

}  // namespace

RobotsRules RobotsRules::parse(std::string_view text, std::string_view product_token) {
  if (text.size() > kMaxBytes) {
    // A line cut at the limit could be a shorter rule than the one written: it goes too.
    text = text.substr(0, kMaxBytes);
    const size_t nl = text.find_last_of('\n');
    text = text.substr(0, nl == std::string_view::npos ? 0 : nl);
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

  std::vector<Rule> ours, star;
  bool named_us = false;  // a group for us, even an empty one, means the "*" groups do not apply
  bool group_is_ours = false, group_is_star = false;
  bool group_has_agents = false, group_has_rules = false;
  while (!text.empty()) {
    size_t end = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    line = trim(line.substr(0, line.find('#')));
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));

    if (ascii_iequals(key, "user-agent")) {
      if (group_has_rules) {  // a User-agent line after rules starts the next group
        group_is_ours = group_is_star = group_has_rules = false;
      }
      group_has_agents = true;
      const std::string_view token = agent_token(value);
      if (token == "*") {
        group_is_star = true;
      } else if (!token.empty() && ascii_iequals(token, product_token)) {
        group_is_ours = true;
        named_us = true;
      }
      continue;
    }
    const bool allow = ascii_iequals(key, "allow");
    if (!allow && !ascii_iequals(key, "disallow")) continue;  // sitemap and unknown keys
    if (!group_has_agents) continue;                          // a rule before any group
    group_has_rules = true;
    if (value.empty()) continue;  // "Disallow:" with no path disallows nothing
    const Rule rule = make_rule(allow, value);
    if (group_is_ours) ours.push_back(rule);
    if (group_is_star) star.push_back(rule);
  }
  RobotsRules r;
  r.rules_ = named_us ? std::move(ours) : std::move(star);
  return r;
}

RobotsRules RobotsRules::disallow_all() {
  RobotsRules r;
  r.rules_.push_back(make_rule(false, "/"));
  return r;
}

RobotsRules::Rule RobotsRules::make_rule(bool allow, std::string_view pattern) {
  Rule rule;
  rule.allow = allow;
  if (pattern.back() == '$') {
    rule.anchored_end = true;
    pattern.remove_suffix(1);
    rule.length = 1;
  }
  // Paths begin with '/': a pattern written without one ("Disallow: private") means it.
  std::string p = !pattern.empty() && pattern[0] != '/' && pattern[0] != '*' ? "/" + std::string(pattern)
                                                                             : std::string(pattern);
  for (size_t start = 0;;) {
    const size_t star = p.find('*', start);
    rule.pieces.push_back(decode(std::string_view(p).substr(start, star == std::string::npos ? std::string::npos : star - start)));
    rule.length += rule.pieces.back().size();
    if (star == std::string::npos) break;
    ++rule.length;
    start = star + 1;
  }
  return rule;
}

bool RobotsRules::matches(const Rule& rule, std::string_view path) {
  const auto& pieces = rule.pieces;
  if (path.substr(0, pieces[0].size()) != pieces[0]) return false;
  if (pieces.size() == 1) return !rule.anchored_end || path.size() == pieces[0].size();
  size_t pos = pieces[0].size();
  // Each middle piece at its earliest place leaves the most room for the ones after it.
  for (size_t i = 1; i + 1 < pieces.size(); ++i) {
    const size_t at = path.find(pieces[i], pos);
    if (at == std::string_view::npos) return false;
    pos = at + pieces[i].size();
  }
  const std::string& last = pieces.back();
  if (!rule.anchored_end) return path.find(last, pos) != std::string_view::npos;
  return path.size() >= pos + last.size() && path.substr(path.size() - last.size()) == last;
}

bool RobotsRules::allowed(const std::string& path_and_query) const {
  std::string path = decode(path_and_query);
  if (path.empty()) path = "/";
  if (path == "/robots.txt") return true;
  const Rule* best = nullptr;
  for (const Rule& rule : rules_) {
    if (!matches(rule, path)) continue;
    if (!best || rule.length > best->length || (rule.length == best->length && rule.allow)) best = &rule;
  }
  return !best || best->allow;
}

}  // namespace nagare
