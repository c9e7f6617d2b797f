// The text of a fetched page for the pipeline: HTML as Markdown, plain text and Markdown as they
// are, PDF through poppler's pdftotext, all in UTF-8; anything else is skipped with a reason.
#pragma once

#include <string>
#include <string_view>

#include "pipeline/fetcher.h"

namespace nagare {

struct PageText {
  std::string url;       // the page's final URL (after redirects)
  std::string title;     // the HTML <title>, or a Markdown file's first "# " heading; may be ""
  std::string markdown;  // UTF-8
  std::string skipped;   // why there is no text, "" when there is: "binary content (image/png)",
                         // "PDF: pdftotext not installed ...", "no text content", "not fetched: ..."
};

// Never throws for a page's content: a page that cannot be read says why in `skipped`.
PageText page_text(const FetchedPage& page);

// The media type a body looks like when the server did not say (no Content-Type, or
// application/octet-stream): "text/html", "application/pdf", "text/plain", or
// "application/octet-stream" for binary (NUL bytes in the first KiB).
std::string sniff_media_type(std::string_view body);

}  // namespace nagare
