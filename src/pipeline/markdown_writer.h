// Builds Markdown block by block for the HTML converter: quote and list-item prefixes, blank
// lines between blocks, whitespace collapsed as a browser lays text out, escaping of text, and
// inline markers (emphasis, links) written only once visible text appears inside them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nagare {

class MarkdownWriter {
 public:
  // Text from the page: runs of whitespace become one space, none at a line's ends, and
  // characters Markdown would read as markup are escaped.
  void text(std::string_view s);
  // An inline code span around `s` (written as is; the caller collapses its whitespace).
  void code_span(std::string_view s);
  void line_break();  // <br>: a new line in the paragraph; two in a row end the paragraph

  // An inline style such as emphasis or a link. `open` is written before the first visible
  // character inside it, so an empty <b></b> or an image-only link leaves nothing, and a
  // style cut by a block boundary is closed there and reopened after it.
  void push_style(std::string open, std::string close);
  void pop_style();
  bool has_style(std::string_view open) const;

  // Blocks. A heading collects everything until end_heading() on one line: block boundaries
  // and containers inside it become spaces.
  void end_block();
  void begin_heading(int level);
  void end_heading();
  void code_block(std::string_view code, std::string_view language);
  void thematic_break();
  void raw_block(const std::vector<std::string>& lines);  // lines that are Markdown already

  // Containers prefix every line of the blocks inside them. Lists are tight: no blank lines
  // between their items or the blocks inside an item.
  void push_quote();
  void push_list();
  void push_list_item(std::string marker);  // "- " or "3. "; later lines align under its text
  void pop_container();

  // The document: no trailing spaces, no runs of blank lines, one final newline, or "" when
  // nothing visible was written.
  std::string finish();

 private:
  struct Container {
    enum class Kind { kQuote, kList, kItem } kind;
    std::string first;  // the prefix of the first line written inside it
    std::string rest;   // of the lines after it
    bool started = false;
  };
  struct Style {
    std::string open, close;
    bool opened = false;
  };

  void note_space();
  void materialize();
  void close_open_styles();
  size_t escape_line_start(std::string_view s, size_t i);
  void append_escaped(std::string_view s, size_t i);
  void flush_paragraph();
  void emit_block(const std::vector<std::string>& lines);
  void push_container(Container c);

  std::string out_;
  std::string inline_;        // the paragraph being built, already Markdown
  bool pending_space_ = false;
  bool line_start_ = true;    // the next character starts a line of the paragraph
  int heading_ = 0;           // the level of the heading being built, else 0
  int muted_containers_ = 0;  // containers pushed inside a heading, ignored
  std::vector<Container> containers_;
  std::vector<Style> styles_;
};

}  // namespace nagare
