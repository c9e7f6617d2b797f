#include "pipeline/html_prefilter.h"

#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/ascii.h"

namespace nagare {
namespace {

enum class TagKind { kCounted, kVoid, kOptionalEnd, kRawText, kPlaintext };

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

template <size_t N>
bool one_of(std::string_view name, const std::string_view (&names)[N]) {
  for (std::string_view n : names)
    if (n == name) return true;
  return false;
}

TagKind kind_of(std::string_view name) {
  static constexpr std::string_view kVoid[] = {
      "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
      "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr"};
  // Elements the parser closes by itself when a sibling starts, so they never pile up.
  static constexpr std::string_view kOptionalEnd[] = {
      "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot",
      "option", "optgroup", "colgroup", "caption", "rb", "rt", "rtc", "rp", "html"};
  // Gumbo parses <noscript> and <template> contents as markup, so those count.
  static constexpr std::string_view kRawText[] = {"script",  "style",    "xmp",      "iframe",
                                                  "noembed", "noframes", "textarea", "title"};
  if (one_of(name, kVoid)) return TagKind::kVoid;
  if (one_of(name, kOptionalEnd) || name == "head" || name == "body") return TagKind::kOptionalEnd;
  if (one_of(name, kRawText)) return TagKind::kRawText;
  if (name == "plaintext") return TagKind::kPlaintext;
  return TagKind::kCounted;
}

bool is_heading(std::string_view name) {
  return name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6';
}

struct TagEnd {
  size_t next = 0;         // the index just past the tag's '>'
  bool self_closing = false;
};

// Steps over a tag's attributes as the tokenizer does, so that a '>' inside a quoted value
// does not end the tag.
TagEnd skip_attributes(std::string_view html, size_t k) {
  const size_t n = html.size();
  bool self_closing = false;
  while (k < n) {
    const char c = html[k];
    if (is_space(c)) {
      ++k;
      continue;
    }
    if (c == '>') return {k + 1, self_closing};
    if (c == '/') {
      self_closing = k + 1 < n && html[k + 1] == '>';
      ++k;
      continue;
    }
    self_closing = false;
    ++k;  // an attribute name's first character may be anything, '=' included
    while (k < n && !is_space(html[k]) && html[k] != '/' && html[k] != '>' && html[k] != '=') ++k;
    while (k < n && is_space(html[k])) ++k;
    if (k < n && html[k] == '=') {
      ++k;
      while (k < n && is_space(html[k])) ++k;
      if (k < n && (html[k] == '"' || html[k] == '\'')) {
        const size_t close = html.find(html[k], k + 1);
        k = close == std::string_view::npos ? n : close + 1;
      } else {
        while (k < n && !is_space(html[k]) && html[k] != '>') ++k;
      }
    }
  }
  return {n, false};
}

// Where the end tag of a raw text element starts ("</script" then a space, '/' or '>'), or npos.
size_t find_raw_text_end(std::string_view html, size_t from, std::string_view name) {
  while (true) {
    const size_t lt = html.find("</", from);
    if (lt == std::string_view::npos) return lt;
    const size_t after = lt + 2 + name.size();
    if (after <= html.size() && ascii_iequals(html.substr(lt + 2, name.size()), name) &&
        (after == html.size() || is_space(html[after]) || html[after] == '/' || html[after] == '>'))
      return lt;
    from = lt + 2;
  }
}

// Where the </svg> that closes an <svg> whose contents start at `from` begins (nested <svg>s
// counted), or the end of the text.
size_t find_svg_end(std::string_view html, size_t from) {
  int depth = 1;
  for (size_t i = html.find('<', from); i != std::string_view::npos; i = html.find('<', i + 1)) {
    const bool end_tag = i + 1 < html.size() && html[i + 1] == '/';
    const size_t name = i + (end_tag ? 2 : 1);
    if (name + 3 > html.size() || !ascii_iequals(html.substr(name, 3), "svg")) continue;
    if (name + 3 < html.size() && !is_space(html[name + 3]) && html[name + 3] != '>' && html[name + 3] != '/') continue;
    depth += end_tag ? -1 : 1;
    if (depth == 0) return i;
  }
  return html.size();
}

class Prefilter {
 public:
  Prefilter(std::string_view html, size_t max_depth) : html_(html), max_depth_(max_depth) {}

  std::string run() {
    const size_t n = html_.size();
    size_t i = 0;
    while ((i = html_.find('<', i)) != std::string_view::npos) {
      const std::string_view rest = html_.substr(i);
      if (rest.starts_with("<!--")) {
        size_t end = n;
        if (rest.starts_with("<!-->")) {
          end = i + 5;
        } else if (rest.starts_with("<!--->")) {
          end = i + 6;
        } else if (const size_t close = html_.find("-->", i + 4); close != std::string_view::npos) {
          end = close + 3;
        }
        remove(i, end);
        i = end;
        continue;
      }
      if (rest.size() > 1 && (rest[1] == '!' || rest[1] == '?')) {
        const bool cdata = foreign_ > 0 && rest.starts_with("<![CDATA[");
        const size_t end = cdata ? html_.find("]]>", i) : html_.find('>', i + 2);
        i = end == std::string_view::npos ? n : end + (cdata ? 3 : 1);
        continue;
      }
      const bool end_tag = rest.size() > 1 && rest[1] == '/';
      const size_t name_begin = i + 1 + (end_tag ? 1 : 0);
      if (name_begin >= n || !is_alpha(html_[name_begin])) {
        ++i;  // a '<' in text
        continue;
      }
      size_t j = name_begin;
      std::string name;
      while (j < n && !is_space(html_[j]) && html_[j] != '/' && html_[j] != '>') name += ascii_lower(html_[j++]);
      const TagEnd tag = skip_attributes(html_, j);
      if (end_tag) {
        end_tag_seen(name, i, tag.next);
        i = tag.next;
        continue;
      }
      const TagKind kind = foreign_ > 0 ? TagKind::kCounted : kind_of(name);
      if (kind == TagKind::kPlaintext) break;
      if (kind == TagKind::kRawText) {
        const size_t end = find_raw_text_end(html_, tag.next, name);
        i = end == std::string_view::npos ? n : end;
        // Scripts and styles never render, and big inline ones (JSON state, CSS) would cost
        // gumbo most of its time on some pages.
        if (name == "script" || name == "style") remove(tag.next, i);
        continue;
      }
      if (kind == TagKind::kCounted && !(tag.self_closing && foreign_ > 0)) start_tag_seen(name, i, tag.next);
      i = tag.next;
      // Inline SVG (icons, charts as paths) is dropped by the converter and can be most of a
      // page's bytes: its contents go, up to the end tag that closes it.
      if (name == "svg" && foreign_ == 1 && !tag.self_closing && !stack_.empty() && stack_.back() == "svg") {
        const size_t end = find_svg_end(html_, i);
        remove(i, end);
        i = end;
      }
    }
    out_.append(html_.substr(copied_));
    return std::move(out_);
  }

 private:
  void start_tag_seen(const std::string& name, size_t begin, size_t end) {
    // The parser closes an open <a>, <nobr> or <button> when another starts, and a heading
    // when another heading starts right inside it; without this, pages that leave those open
    // would look deeper than they are.
    if (name == "a" || name == "nobr" || name == "button") {
      const size_t at = find_open_in_scope(name);
      if (at != kNone) pop_to(at);
    } else if (is_heading(name) && !stack_.empty() && is_heading(stack_.back())) {
      pop_to(stack_.size() - 1);
    }
    if (stack_.size() >= max_depth_) {
      remove(begin, end);
      ++dropped_[name];
      return;
    }
    if (name == "svg" || name == "math") ++foreign_;
    stack_.push_back(name);
  }

  void end_tag_seen(const std::string& name, size_t begin, size_t end) {
    const size_t at = find_open(name);
    if (at != kNone) {
      pop_to(at);
      return;
    }
    auto it = dropped_.find(name);
    if (it != dropped_.end() && it->second > 0) {
      --it->second;
      remove(begin, end);
    }
  }

  static constexpr size_t kNone = ~size_t{0};

  size_t find_open(const std::string& name) const {
    for (size_t k = stack_.size(); k-- > 0;)
      if (stack_[k] == name) return k;
    return kNone;
  }

  // As find_open, but not past an element that starts a new scope for the parser: an <a> in
  // a table cell does not close one outside the table.
  size_t find_open_in_scope(const std::string& name) const {
    for (size_t k = stack_.size(); k-- > 0;) {
      const std::string& open = stack_[k];
      if (open == name) return k;
      if (open == "table" || open == "object" || open == "applet" || open == "marquee" || open == "template" ||
          open == "svg" || open == "math")
        return kNone;
    }
    return kNone;
  }

  void pop_to(size_t index) {  // closes stack_[index] and everything opened inside it
    while (stack_.size() > index) {
      if (stack_.back() == "svg" || stack_.back() == "math") --foreign_;
      stack_.pop_back();
    }
  }

  void remove(size_t begin, size_t end) {  // html_[begin, end) is left out of the result
    if (out_.empty()) out_.reserve(html_.size());
    out_.append(html_.substr(copied_, begin - copied_));
    copied_ = end;
  }

  std::string_view html_;
  size_t max_depth_;
  std::vector<std::string> stack_;
  std::unordered_map<std::string, size_t> dropped_;
  int foreign_ = 0;  // open <svg> and <math> elements: their children may close themselves ("<path/>")
  std::string out_;
  size_t copied_ = 0;  // html_[0, copied_) is in out_ already, less what was removed
};

}  // namespace

std::string prefilter_html(std::string_view html, size_t max_depth) {
  return Prefilter(html, max_depth).run();
}

}  // namespace nagare
