#include "pipeline/markdown_writer.h"

#include <algorithm>

namespace nagare {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_punct(char c) { return c > 0x20 && c < 0x7F && !is_alnum(c); }

void rtrim(std::string& s) {
  while (!s.empty() && is_space(s.back())) s.pop_back();
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find('\n', b);
    if (e == std::string_view::npos) e = s.size();
    lines.emplace_back(s.substr(b, e - b));
    if (!lines.back().empty() && lines.back().back() == '\r') lines.back().pop_back();
    b = e + 1;
  }
  return lines;
}

size_t longest_backtick_run(std::string_view s) {
  size_t best = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

}  // namespace

void MarkdownWriter::note_space() {
  if (!inline_.empty() && inline_.back() != '\n') pending_space_ = true;
}

// Writes what must precede the next visible character: the space collapsed from whitespace
// before it, then the markers of styles not yet open in this paragraph.
void MarkdownWriter::materialize() {
  if (pending_space_) {
    inline_ += ' ';
    pending_space_ = false;
  }
  for (Style& st : styles_) {
    if (st.opened) continue;
    // "!" right before "[" would turn the link into an image.
    if (st.open == "[" && !inline_.empty() && inline_.back() == '!') {
      inline_.back() = '\\';
      inline_ += '!';
    }
    inline_ += st.open;
    st.opened = true;
    line_start_ = false;
  }
}

void MarkdownWriter::close_open_styles() {
  for (auto it = styles_.rbegin(); it != styles_.rend(); ++it) {
    if (!it->opened) continue;
    inline_ += it->close;
    it->opened = false;
  }
}

void MarkdownWriter::push_style(std::string open, std::string close) {
  styles_.push_back({std::move(open), std::move(close), false});
}

void MarkdownWriter::pop_style() {
  if (styles_.empty()) return;
  if (styles_.back().opened) inline_ += styles_.back().close;
  styles_.pop_back();
}

bool MarkdownWriter::has_style(std::string_view open) const {
  return std::any_of(styles_.begin(), styles_.end(), [&](const Style& s) { return s.open == open; });
}

// At the start of a line, text that Markdown would read as a heading, list item, quote, rule
// or fence gets one backslash. Returns the bytes of `s` consumed (0: nothing to escape).
size_t MarkdownWriter::escape_line_start(std::string_view s, size_t i) {
  const char c = s[i];
  const bool ends = i + 1 == s.size();
  const char next = ends ? ' ' : s[i + 1];
  if (c == '#') {
    size_t n = 0;
    while (i + n < s.size() && s[i + n] == '#') ++n;
    if (n > 6 || (i + n < s.size() && !is_space(s[i + n]))) return 0;
  } else if (c == '-' || c == '=' || c == '+') {
    if (!is_space(next) && (c == '+' || next != c)) return 0;
  } else if (c == '~') {
    if (s.substr(i, 3) != "~~~") return 0;
  } else if (is_digit(c)) {
    size_t j = i;
    while (j < s.size() && is_digit(s[j]) && j - i < 10) ++j;
    if (j - i > 9 || j >= s.size() || (s[j] != '.' && s[j] != ')') || (j + 1 < s.size() && !is_space(s[j + 1])))
      return 0;
    inline_.append(s.substr(i, j - i));
    inline_ += '\\';
    inline_ += s[j];
    return j + 1 - i;
  } else if (c != '>') {
    return 0;
  }
  inline_ += '\\';
  inline_ += c;
  return 1;
}

void MarkdownWriter::append_escaped(std::string_view s, size_t i) {
  const char c = s[i];
  switch (c) {
    case '*':
    case '`':
    case '[':
    case ']':
      inline_ += '\\';
      break;
    case '_': {
      // Inside a word ("snake_case") an underscore cannot start emphasis: left as is.
      const bool inner = !inline_.empty() && is_alnum(inline_.back()) && i + 1 < s.size() && is_alnum(s[i + 1]);
      if (!inner) inline_ += '\\';
      break;
    }
    case '\\':
      if (i + 1 == s.size() || is_punct(s[i + 1])) inline_ += '\\';
      break;
    default:
      break;
  }
  inline_ += c;
}

void MarkdownWriter::text(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (is_space(char(c))) {
      note_space();
      ++i;
      continue;
    }
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {  // no-break space
      note_space();
      i += 2;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {  // control characters: invisible on the page
      ++i;
      continue;
    }
    materialize();
    if (line_start_) {
      line_start_ = false;
      if (const size_t used = escape_line_start(s, i)) {
        i += used;
        continue;
      }
    }
    append_escaped(s, i);
    ++i;
  }
}

void MarkdownWriter::code_span(std::string_view s) {
  if (s.empty()) return;
  materialize();
  line_start_ = false;
  const std::string fence(longest_backtick_run(s) + 1, '`');
  const bool pad = s.front() == '`' || s.back() == '`' || (s.front() == ' ' && s.back() == ' ');
  inline_ += fence;
  if (pad) inline_ += ' ';
  inline_.append(s);
  if (pad) inline_ += ' ';
  inline_ += fence;
}

void MarkdownWriter::line_break() {
  if (heading_) {
    note_space();
    return;
  }
  if (inline_.empty()) return;
  if (inline_.back() == '\n') {  // <br><br>: a paragraph break
    flush_paragraph();
    return;
  }
  // Emphasis cannot be closed at the start of a line: close it here and reopen it after.
  close_open_styles();
  inline_ += '\n';
  pending_space_ = false;
  line_start_ = true;
}

void MarkdownWriter::flush_paragraph() {
  close_open_styles();
  pending_space_ = false;
  line_start_ = true;
  while (!inline_.empty() && inline_.back() == '\n') inline_.pop_back();
  if (inline_.empty()) return;
  std::vector<std::string> lines = split_lines(inline_);
  inline_.clear();
  emit_block(lines);
}

void MarkdownWriter::end_block() {
  if (heading_) {
    note_space();
    return;
  }
  flush_paragraph();
}

void MarkdownWriter::begin_heading(int level) {
  if (heading_) return;
  flush_paragraph();
  heading_ = std::clamp(level, 1, 6);
  line_start_ = false;  // after "## " nothing reads as a list or quote
}

void MarkdownWriter::end_heading() {
  if (!heading_) return;
  close_open_styles();
  pending_space_ = false;
  std::string text;
  text.swap(inline_);
  std::replace(text.begin(), text.end(), '\n', ' ');
  rtrim(text);
  const int level = heading_;
  heading_ = 0;
  line_start_ = true;
  if (!text.empty()) emit_block({std::string(size_t(level), '#') + " " + text});
}

void MarkdownWriter::code_block(std::string_view code, std::string_view language) {
  if (heading_) {
    text(code);
    return;
  }
  flush_paragraph();
  std::vector<std::string> lines = split_lines(code);
  while (!lines.empty() && lines.back().find_first_not_of(" \t\f") == std::string::npos) lines.pop_back();
  if (lines.empty()) return;
  const std::string fence(std::max<size_t>(3, longest_backtick_run(code) + 1), '`');
  std::string info;
  for (char c : language)
    if (is_alnum(c) || c == '+' || c == '#' || c == '.' || c == '_' || c == '-') info += c;
  lines.insert(lines.begin(), fence + info);
  lines.push_back(fence);
  emit_block(lines);
}

void MarkdownWriter::thematic_break() {
  if (heading_) return;
  flush_paragraph();
  emit_block({"---"});
}

void MarkdownWriter::raw_block(const std::vector<std::string>& lines) {
  if (heading_) return;
  flush_paragraph();
  if (!lines.empty()) emit_block(lines);
}

void MarkdownWriter::emit_block(const std::vector<std::string>& lines) {
  // One blank line between blocks, except inside a list (where the innermost container that
  // has written a line already is a list or an item): lists stay tight.
  if (!out_.empty()) {
    const Container* inner = nullptr;
    std::string blank;
    for (const Container& c : containers_) {
      if (!c.started) continue;
      inner = &c;
      blank += c.rest;
    }
    if (!inner || inner->kind == Container::Kind::kQuote) {
      rtrim(blank);
      out_ += blank;
      out_ += '\n';
    }
  }
  for (const std::string& line : lines) {
    const size_t begin = out_.size();
    for (Container& c : containers_) {
      out_ += c.started ? c.rest : c.first;
      c.started = true;
    }
    out_ += line;
    while (out_.size() > begin && is_space(out_.back())) out_.pop_back();
    out_ += '\n';
  }
}

void MarkdownWriter::push_container(Container c) {
  if (heading_) {
    ++muted_containers_;
    note_space();
    return;
  }
  flush_paragraph();
  containers_.push_back(std::move(c));
}

void MarkdownWriter::push_quote() { push_container({Container::Kind::kQuote, "> ", "> "}); }
void MarkdownWriter::push_list() { push_container({Container::Kind::kList, "", ""}); }
void MarkdownWriter::push_list_item(std::string marker) {
  const std::string indent(marker.size(), ' ');
  push_container({Container::Kind::kItem, std::move(marker), indent});
}

void MarkdownWriter::pop_container() {
  if (muted_containers_ > 0) {
    --muted_containers_;
    note_space();
    return;
  }
  flush_paragraph();
  if (!containers_.empty()) containers_.pop_back();
}

std::string MarkdownWriter::finish() {
  end_heading();
  flush_paragraph();
  std::string doc;
  doc.reserve(out_.size());
  bool blank_before = true;  // drops blank lines at the start
  for (const std::string& line : split_lines(out_)) {
    const bool blank = line.empty();
    if (blank && blank_before) continue;
    doc += line;
    doc += '\n';
    blank_before = blank;
  }
  while (!doc.empty() && is_space(doc.back())) doc.pop_back();
  if (!doc.empty()) doc += '\n';
  return doc;
}

}  // namespace nagare
