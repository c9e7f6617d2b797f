// What the HTML converter leaves out of a page as boilerplate: elements that never show text
// (scripts, forms, media), elements hidden from readers, and site furniture (navigation, cookie
// banners, share bars, ads) named by its ARIA role or by words in its id and class.
#pragma once

#include <gumbo.h>

#include <string>
#include <string_view>
#include <vector>

namespace nagare {

// Elements dropped with everything inside them wherever they are: script, style, svg, forms'
// controls, media, nav, aside, dialog...
bool is_non_content_element(const GumboElement& e);

// hidden, aria-hidden="true", or an inline style with display:none or visibility:hidden.
bool is_hidden_element(const GumboElement& e);

// role navigation, banner, contentinfo, complementary, search, dialog, alertdialog, menu, ...
bool has_boilerplate_role(const GumboElement& e);

// "main-nav", "cookieBanner", "share-buttons" -> {"main", "nav", "cookie", "banner", "share",
// "buttons"}: split at anything but ASCII letters and digits and at lower-to-upper case changes,
// lowercased.
std::vector<std::string> class_tokens(std::string_view id_or_class);

// Whether the id or a class names site furniture: whole tokens such as "nav", "ad", "share",
// "related", "comments", "sidebar", plus prefixes such as "cookie..." and "newsletter...".
// Whole tokens keep "canvas-wrapper" and "shadow" out of it.
bool has_boilerplate_class(const GumboElement& e);

// Whether the id or a class says header ("site-header", "masthead"): outside an article or
// section, site furniture.
bool has_header_class(const GumboElement& e);

}  // namespace nagare
