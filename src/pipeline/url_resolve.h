// Resolves a link's href against the page URL for the HTML-to-Markdown converter: RFC 3986
// section 5 on strings, for any scheme, and never throws (a link that cannot be made absolute
// stays as written).
#pragma once

#include <string>
#include <string_view>

namespace nagare {

// `href` as a browser reads it (surrounding whitespace and control characters dropped, tabs and
// newlines inside removed, '\' read as '/' in http(s) URLs) resolved against `base`, dot
// segments removed. When `base` has no scheme and `href` is relative, the cleaned `href`.
std::string resolve_href(std::string_view base, std::string_view href);

}  // namespace nagare
