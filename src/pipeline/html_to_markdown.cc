#include "pipeline/html_to_markdown.h"

#include <algorithm>
#include <cstdlib>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pipeline/html_boilerplate.h"
#include "pipeline/html_prefilter.h"
#include "pipeline/html_tree.h"
#include "pipeline/markdown_writer.h"
#include "pipeline/url_resolve.h"
#include "util/ascii.h"
#include "util/utf8.h"

namespace nagare {
namespace {

// Elements open at once (see html_prefilter.h): real pages stay far below it, and gumbo's
// cost per tag, which grows with the depth, stays small. Deeper tags are dropped, not their text.
constexpr size_t kMaxNesting = 128;
// The tree depth rendered with its structure; anything deeper is written as plain text, so the
// renderer's recursion stays bounded whatever gumbo builds (about 1 KiB of stack a level, 10
// under AddressSanitizer).
constexpr int kMaxRenderDepth = 200;
// A table cell longer than this (in Markdown bytes) means the table lays out the page.
constexpr size_t kMaxCellBytes = 1000;
constexpr size_t kMaxColumns = 64;

using NodeSet = std::unordered_set<const GumboNode*>;
using namespace html;

bool is_block_tag(GumboTag t) {
  switch (t) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_LI:
    case GUMBO_TAG_TABLE: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE: case GUMBO_TAG_DL: case GUMBO_TAG_FIGURE: case GUMBO_TAG_HR:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_MAIN:
      return true;
    default:
      return is_heading_tag(t);
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Alt text worth a line: not empty, not a file name, not a placeholder word.
bool is_meaningful_alt(const std::string& alt) {
  if (count_code_points(alt) < 4) return false;
  std::string lower;
  for (char c : alt) lower += ascii_lower(c);
  for (std::string_view ext : {".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg"})
    if (lower.ends_with(ext)) return false;
  for (std::string_view word : {"image", "photo", "picture", "logo", "icon", "thumbnail", "placeholder", "banner"})
    if (lower == word) return false;
  return true;
}

// A Markdown link destination for `href`, or "" when the link should stay plain text.
std::string link_target(const std::string& base, const char* href) {
  std::string_view h(href);
  while (!h.empty() && static_cast<unsigned char>(h.front()) <= 0x20) h.remove_prefix(1);
  if (h.empty() || h.front() == '#') return "";
  std::string scheme;
  for (char c : h.substr(0, 12)) scheme += ascii_lower(c);
  for (std::string_view bad : {"javascript:", "vbscript:", "data:"})
    if (scheme.starts_with(bad)) return "";
  std::string out;
  for (char c : resolve_href(base, h)) {
    // What would end or break "(...)" in Markdown is percent-encoded; servers read it the same.
    switch (c) {
      case ' ': out += "%20"; break;
      case '(': out += "%28"; break;
      case ')': out += "%29"; break;
      case '<': out += "%3C"; break;
      case '>': out += "%3E"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7F) out += c;
    }
  }
  return out;
}

std::string flatten_cell(const std::string& md) {
  std::string out;
  for (char c : collapse_whitespace(md)) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

class Converter {
 public:
  Converter(std::string base, const NodeSet& protected_nodes, bool class_rules)
      : base_(std::move(base)), protected_(protected_nodes), class_rules_(class_rules) {}

  std::string render(const GumboNode* root, bool in_section) {
    render_children(root, 0, in_section);
    return w_.finish();
  }

  enum class Treatment { kRender, kDrop, kHeadingsOnly };

  Treatment treatment(const GumboNode* n, bool in_section) const {
    const GumboElement& e = n->v.element;
    if (is_non_content_element(e) || is_hidden_element(e) || has_boilerplate_role(e)) return Treatment::kDrop;
    // Protected: holds the page's <main> or an <h1>; a wrapper named "header" or an ASP.NET
    // page's all-enclosing <form> must not take the article with it.
    const bool is_protected = protected_.count(n) > 0;
    if (e.tag == GUMBO_TAG_FORM) return is_protected ? Treatment::kRender : Treatment::kDrop;
    // A header or footer of an article or section is part of it (title, byline, date, tags);
    // the page's own are site furniture, except for the <h1> a page header may hold.
    if (e.tag == GUMBO_TAG_HEADER && !in_section)
      return is_protected ? Treatment::kHeadingsOnly : Treatment::kDrop;
    if (e.tag == GUMBO_TAG_FOOTER && !in_section) return Treatment::kDrop;
    if (!class_rules_ || is_protected || exempt_from_class_rules(e.tag)) return Treatment::kRender;
    if (has_boilerplate_class(e) || (!in_section && has_header_class(e))) return Treatment::kDrop;
    return Treatment::kRender;
  }

 private:
  static bool exempt_from_class_rules(GumboTag t) {
    return is_heading_tag(t) || t == GUMBO_TAG_HTML || t == GUMBO_TAG_BODY || t == GUMBO_TAG_MAIN ||
           t == GUMBO_TAG_ARTICLE || t == GUMBO_TAG_PRE || t == GUMBO_TAG_CODE || t == GUMBO_TAG_TR ||
           t == GUMBO_TAG_TD || t == GUMBO_TAG_TH || t == GUMBO_TAG_TBODY || t == GUMBO_TAG_THEAD;
  }

  void render_children(const GumboNode* n, int depth, bool in_section) {
    if (const GumboVector* c = children_of(n))
      for (unsigned i = 0; i < c->length; ++i) render_node(child(*c, i), depth + 1, in_section);
  }

  void render_node(const GumboNode* n, int depth, bool in_section) {
    switch (n->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_WHITESPACE:
      case GUMBO_NODE_CDATA:
        if (headings_only_ == 0) w_.text(n->v.text.text);
        return;
      case GUMBO_NODE_ELEMENT:
        if (depth > kMaxRenderDepth) {
          if (headings_only_ == 0 && treatment(n, in_section) == Treatment::kRender) w_.text(text_content(n));
          return;
        }
        render_element(n, depth, in_section);
        return;
      default:  // comments, templates
        return;
    }
  }

  void render_element(const GumboNode* n, int depth, bool in_section) {
    const Treatment t = treatment(n, in_section);
    if (t == Treatment::kDrop) return;
    const GumboTag tag = n->v.element.tag;
    if (t == Treatment::kHeadingsOnly || (headings_only_ > 0 && !is_heading_tag(tag) && tag != GUMBO_TAG_P)) {
      ++headings_only_;  // only headings and paragraphs inside are written
      render_children(n, depth, in_section);
      --headings_only_;
      return;
    }
    const int saved = std::exchange(headings_only_, 0);
    render_content(n, depth, in_section);
    headings_only_ = saved;
  }

  void render_styled(const GumboNode* n, int depth, bool in_section, const char* marker) {
    if (w_.has_style(marker)) {  // <b> inside <b>: "****" would read as something else
      render_children(n, depth, in_section);
      return;
    }
    w_.push_style(marker, marker);
    render_children(n, depth, in_section);
    w_.pop_style();
  }

  void render_block(const GumboNode* n, int depth, bool in_section) {
    w_.end_block();
    render_children(n, depth, in_section);
    w_.end_block();
  }

  void render_content(const GumboNode* n, int depth, bool in_section) {
    const GumboElement& e = n->v.element;
    const bool section = in_section || e.tag == GUMBO_TAG_ARTICLE || e.tag == GUMBO_TAG_MAIN ||
                         e.tag == GUMBO_TAG_SECTION || has_role(n, "main");
    switch (e.tag) {
      case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
      case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6:
        w_.begin_heading(int(e.tag - GUMBO_TAG_H1) + 1);
        render_children(n, depth, section);
        w_.end_heading();
        return;
      case GUMBO_TAG_BR: w_.line_break(); return;
      case GUMBO_TAG_HR: w_.thematic_break(); return;
      case GUMBO_TAG_WBR: return;
      case GUMBO_TAG_PRE: render_pre(n); return;
      case GUMBO_TAG_CODE: case GUMBO_TAG_KBD: case GUMBO_TAG_SAMP: case GUMBO_TAG_TT: render_code(n); return;
      case GUMBO_TAG_B: case GUMBO_TAG_STRONG: render_styled(n, depth, section, "**"); return;
      case GUMBO_TAG_I: case GUMBO_TAG_EM: render_styled(n, depth, section, "*"); return;
      case GUMBO_TAG_S: case GUMBO_TAG_STRIKE: case GUMBO_TAG_DEL: render_styled(n, depth, section, "~~"); return;
      case GUMBO_TAG_A: render_link(n, depth, section); return;
      case GUMBO_TAG_IMG: render_image(e); return;
      case GUMBO_TAG_UL: case GUMBO_TAG_OL: render_list(n, depth, section); return;
      case GUMBO_TAG_TABLE: render_table(n, depth, section); return;
      case GUMBO_TAG_BLOCKQUOTE:
        w_.push_quote();
        render_children(n, depth, section);
        w_.pop_container();
        return;
      case GUMBO_TAG_FIGURE: {
        const bool captioned = find_first(n, GUMBO_TAG_FIGCAPTION) != nullptr;
        if (!captioned) ++uncaptioned_figures_;
        render_block(n, depth, section);
        if (!captioned) --uncaptioned_figures_;
        return;
      }
      case GUMBO_TAG_MATH:
        if (const char* alt = attribute(e, "alttext")) {
          w_.text(alt);
          return;
        }
        render_children(n, depth, section);
        return;
      default:
        if (is_block_tag(e.tag) || is_layout_block(e.tag)) {
          render_block(n, depth, section);
        } else {
          render_children(n, depth, section);  // inline: <span>, <abbr>, custom elements...
        }
        return;
    }
  }

  static bool is_layout_block(GumboTag t) {
    switch (t) {
      case GUMBO_TAG_BODY: case GUMBO_TAG_CENTER: case GUMBO_TAG_DETAILS: case GUMBO_TAG_SUMMARY:
      case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_DT: case GUMBO_TAG_DD: case GUMBO_TAG_FIELDSET:
      case GUMBO_TAG_LEGEND: case GUMBO_TAG_HGROUP: case GUMBO_TAG_FORM: case GUMBO_TAG_CAPTION:
      case GUMBO_TAG_TR: case GUMBO_TAG_TD: case GUMBO_TAG_TH: case GUMBO_TAG_TBODY: case GUMBO_TAG_THEAD:
      case GUMBO_TAG_TFOOT: case GUMBO_TAG_NOSCRIPT:
        return true;
      default:
        return false;
    }
  }

  static std::string trim_newlines(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    size_t b = 0;
    while (b < s.size() && (s[b] == '\n' || s[b] == '\r')) ++b;
    return s.substr(b);
  }

  // "language-python" or "lang-js" on the <pre> or its <code>.
  static std::string code_language(const GumboNode* pre) {
    std::vector<const GumboNode*> candidates{pre};
    if (const GumboNode* code = find_first(pre, GUMBO_TAG_CODE)) candidates.push_back(code);
    for (const GumboNode* n : candidates) {
      const char* cls = attribute(n->v.element, "class");
      if (!cls) continue;
      std::string_view c(cls);
      for (std::string_view prefix : {"language-", "lang-"}) {
        const size_t at = c.find(prefix);
        if (at == std::string_view::npos || (at > 0 && c[at - 1] != ' ')) continue;
        const std::string_view rest = c.substr(at + prefix.size());
        return std::string(rest.substr(0, rest.find(' ')));
      }
    }
    return "";
  }

  // The helpers with locals of their own are kept out of render_content, whose frame is on
  // the stack once per level of the tree.
  [[gnu::noinline]] void render_pre(const GumboNode* n) {
    w_.code_block(trim_newlines(text_content(n)), code_language(n));
  }

  [[gnu::noinline]] void render_code(const GumboNode* n) {
    const std::string raw = text_content(n);
    const std::string code = collapse_whitespace(raw);
    if (code.empty()) {
      if (!raw.empty()) w_.text(" ");
      return;
    }
    if (is_space(raw.front())) w_.text(" ");
    w_.code_span(code);
    if (is_space(raw.back())) w_.text(" ");
  }

  [[gnu::noinline]] void render_link(const GumboNode* n, int depth, bool in_section) {
    const char* href = attribute(n->v.element, "href");
    const std::string target = href ? link_target(base_, href) : "";
    // A link around blocks (a whole card) cannot be one Markdown link: its contents stay.
    if (target.empty() || w_.has_style("[") || contains_tag(n, is_block_tag)) {
      render_children(n, depth, in_section);
      return;
    }
    w_.push_style("[", "](" + target + ")");
    render_children(n, depth, in_section);
    w_.pop_style();
  }

  [[gnu::noinline]] void render_image(const GumboElement& e) {
    // Images are dropped; one that stands as a figure without a caption keeps its alt text.
    const char* alt = attribute(e, "alt");
    if (uncaptioned_figures_ == 0 || !alt) return;
    const std::string text = collapse_whitespace(alt);
    if (!is_meaningful_alt(text)) return;
    w_.end_block();
    w_.text("Image: " + text);
    w_.end_block();
  }

  [[gnu::noinline]] void render_list(const GumboNode* n, int depth, bool in_section) {
    const bool ordered = n->v.element.tag == GUMBO_TAG_OL;
    long number = 1;
    if (const char* start = attribute(n->v.element, "start"); ordered && start) {
      char* end = nullptr;
      const long v = std::strtol(start, &end, 10);
      if (end != start) number = std::clamp(v, 0L, 999999999L);
    }
    w_.push_list();
    const GumboVector& c = n->v.element.children;
    for (unsigned i = 0; i < c.length; ++i) {
      const GumboNode* item = child(c, i);
      if (!is_tag(item, GUMBO_TAG_LI)) {
        render_node(item, depth + 1, in_section);
        continue;
      }
      if (treatment(item, in_section) == Treatment::kDrop) continue;
      w_.push_list_item(ordered ? std::to_string(number++) + ". " : "- ");
      render_children(item, depth + 1, in_section);
      w_.pop_container();
      number = std::min(number, 999999999L);
    }
    w_.pop_container();
  }

  // A cell's contents as one line of Markdown, rendered by a writer of its own.
  [[gnu::noinline]] std::string render_cell(const GumboNode* cell, int depth, bool in_section) {
    MarkdownWriter outer;
    std::swap(w_, outer);
    render_children(cell, depth, in_section);
    std::string md = w_.finish();
    std::swap(w_, outer);
    return flatten_cell(md);
  }

  [[gnu::noinline]] void render_table(const GumboNode* table, int depth, bool in_section) {
    std::vector<const GumboNode*> rows;
    const GumboNode* caption = nullptr;
    const GumboVector& c = table->v.element.children;
    for (unsigned i = 0; i < c.length; ++i) {
      const GumboNode* k = child(c, i);
      if (k->type != GUMBO_NODE_ELEMENT || treatment(k, in_section) == Treatment::kDrop) continue;
      const GumboTag t = k->v.element.tag;
      if (t == GUMBO_TAG_CAPTION) caption = caption ? caption : k;
      if (t == GUMBO_TAG_TR) rows.push_back(k);
      if (t != GUMBO_TAG_THEAD && t != GUMBO_TAG_TBODY && t != GUMBO_TAG_TFOOT) continue;
      for (unsigned j = 0; j < k->v.element.children.length; ++j) {
        const GumboNode* r = child(k->v.element.children, j);
        if (is_tag(r, GUMBO_TAG_TR) && treatment(r, in_section) != Treatment::kDrop) rows.push_back(r);
      }
    }
    // Tables that lay out a page (one column, tables inside, headings or long text in cells)
    // are read as the blocks they hold.
    auto layout = [&] {
      render_block(table, depth, in_section);
    };
    if (contains_tag(table, [](GumboTag t) { return t == GUMBO_TAG_TABLE || is_heading_tag(t); })) return layout();
    std::vector<std::vector<std::string>> cells;
    size_t columns = 0;
    for (const GumboNode* r : rows) {
      std::vector<std::string> row;
      const GumboVector& rc = r->v.element.children;
      for (unsigned j = 0; j < rc.length && row.size() < kMaxColumns; ++j) {
        const GumboNode* cell = child(rc, j);
        if (!is_tag(cell, GUMBO_TAG_TD) && !is_tag(cell, GUMBO_TAG_TH)) continue;
        if (treatment(cell, in_section) == Treatment::kDrop) continue;
        row.push_back(render_cell(cell, depth + 2, in_section));
        if (row.back().size() > kMaxCellBytes) return layout();
        const char* span = attribute(cell->v.element, "colspan");
        const long extra = span ? std::clamp(std::strtol(span, nullptr, 10), 1L, long(kMaxColumns)) - 1 : 0;
        for (long s = 0; s < extra && row.size() < kMaxColumns; ++s) row.emplace_back();
      }
      if (row.empty()) continue;
      columns = std::max(columns, row.size());
      cells.push_back(std::move(row));
    }
    if (columns < 2) return layout();
    if (caption) render_block(caption, depth, in_section);
    // The header row is the first row, whether it is made of <th>s or not: GitHub's tables
    // have no other place for column names.
    std::vector<std::string> lines;
    for (size_t i = 0; i < cells.size(); ++i) {
      cells[i].resize(columns);
      std::string line = "|";
      for (const std::string& cell : cells[i]) line += " " + cell + " |";
      lines.push_back(std::move(line));
      if (i == 0) {
        std::string rule = "|";
        for (size_t k = 0; k < columns; ++k) rule += " --- |";
        lines.push_back(std::move(rule));
      }
    }
    w_.raw_block(lines);
  }

  MarkdownWriter w_;
  std::string base_;
  const NodeSet& protected_;
  bool class_rules_;
  int headings_only_ = 0;        // inside a page header: only its headings and paragraphs
  int uncaptioned_figures_ = 0;  // inside a <figure> without <figcaption>
};

// The elements that hold the page's <main> or its headline (every <h1>; without one, the
// first <h2> outside site furniture), which id and class rules never drop: a wrapper named
// "has-sidebar" or "header-wrap" must not take the article with it.
NodeSet protected_nodes(const GumboNode* root) {
  NodeSet nodes;
  auto protect = [&](const GumboNode* n) {
    for (const GumboNode* p = n; p && nodes.insert(p).second; p = p->parent) {
    }
  };
  bool has_h1 = false;
  walk_elements(root, [&](const GumboNode* n) {
    if (is_tag(n, GUMBO_TAG_MAIN) || is_tag(n, GUMBO_TAG_H1) || has_role(n, "main")) protect(n);
    has_h1 = has_h1 || is_tag(n, GUMBO_TAG_H1);
    return true;
  });
  if (has_h1) return nodes;
  const GumboNode* first_h2 = nullptr;
  walk_elements(root, [&](const GumboNode* n) {
    const GumboElement& e = n->v.element;
    if (first_h2 || is_tag(n, GUMBO_TAG_H2)) {
      first_h2 = first_h2 ? first_h2 : n;
      return false;
    }
    return !(is_non_content_element(e) || e.tag == GUMBO_TAG_HEADER || e.tag == GUMBO_TAG_FOOTER ||
             has_boilerplate_role(e) || is_hidden_element(e));
  });
  if (first_h2) protect(first_h2);
  return nodes;
}

// The page's main content: its <main> (or role="main"), else its one <article>, else the body.
// Dropped furniture is not searched, so the <article> cards of a "related" box do not count.
const GumboNode* main_content(const GumboNode* body, const Converter& rules) {
  const GumboNode* main = nullptr;
  std::vector<const GumboNode*> articles;
  walk_elements(body, [&](const GumboNode* n) {
    if (main || rules.treatment(n, false) != Converter::Treatment::kRender) return false;
    if (is_tag(n, GUMBO_TAG_MAIN) || has_role(n, "main")) {
      main = n;
      return false;
    }
    if (is_tag(n, GUMBO_TAG_ARTICLE)) {
      articles.push_back(n);
      return false;  // an <article> inside it (a comment) is part of it
    }
    return true;
  });
  if (main) return main;
  return articles.size() == 1 ? articles[0] : body;
}

}  // namespace

MarkdownPage html_to_markdown(std::string_view html, const std::string& base_url) {
  const std::string filtered = prefilter_html(html, kMaxNesting);
  GumboArena arena;
  const GumboOutput* doc = arena.parse(filtered);

  MarkdownPage page;
  const GumboNode* root = doc->root;
  if (const char* lang = attribute(root->v.element, "lang")) page.language = collapse_whitespace(lang);
  const GumboNode* head = nullptr;
  const GumboNode* body = nullptr;
  for (unsigned i = 0; i < root->v.element.children.length; ++i) {
    const GumboNode* c = child(root->v.element.children, i);
    if (is_tag(c, GUMBO_TAG_HEAD)) head = c;
    if (is_tag(c, GUMBO_TAG_BODY)) body = c;
  }
  std::string base = base_url;
  if (const GumboNode* b = head ? find_first(head, GUMBO_TAG_BASE) : nullptr)
    if (const char* href = attribute(b->v.element, "href")) base = resolve_href(base_url, href);
  const GumboNode* title = head ? find_first(head, GUMBO_TAG_TITLE) : nullptr;
  if (!title) title = find_first(root, GUMBO_TAG_TITLE);  // a <title> misplaced in the body
  if (title) page.title = collapse_whitespace(text_content(title));
  if (page.title.empty())
    if (const GumboNode* h1 = find_first(root, GUMBO_TAG_H1)) page.title = collapse_whitespace(text_content(h1));

  if (!body) return page;
  const NodeSet keep = protected_nodes(body);
  const GumboNode* content = main_content(body, Converter(base, keep, true));
  // When the id and class rules leave nothing (a page whose every wrapper says "sidebar"),
  // the content without them is better than none; then the whole body.
  for (const GumboNode* from : {content, body}) {
    for (const bool class_rules : {true, false}) {
      page.markdown = Converter(base, keep, class_rules).render(from, from != body);
      if (!page.markdown.empty()) return page;
    }
    if (content == body) break;
  }
  return page;
}

}  // namespace nagare
