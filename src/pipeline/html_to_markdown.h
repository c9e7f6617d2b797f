// A fetched page's HTML as clean Markdown for the extraction prompts: the main content only,
// with site furniture (navigation, banners, scripts, ads) left out and headings, lists,
// tables, links, code and emphasis kept. Parsed by gumbo, a complete HTML5 parser.
#pragma once

#include <string>
#include <string_view>

namespace nagare {

struct MarkdownPage {
  std::string title;     // <title>, else the first <h1>, whitespace collapsed and trimmed
  std::string markdown;  // the main content; ends with one newline, or "" when the page has none
  std::string language;  // <html lang>, may be empty
};

// `html` is UTF-8 (convert with to_utf8 first; invalid bytes become U+FFFD). `base_url`, the
// page's URL, makes links absolute (a <base href> in the page is honored). The main content
// is the page's <main> (or role="main"), else its one <article>, else the whole body; the page
// title is not repeated in `markdown`. Never throws for any input.
MarkdownPage html_to_markdown(std::string_view html, const std::string& base_url);

}  // namespace nagare
