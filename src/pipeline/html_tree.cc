#include "pipeline/html_tree.h"

#include <algorithm>

#include "pipeline/html_boilerplate.h"
#include "util/ascii.h"

namespace nagare::html {

const GumboOutput* GumboArena::parse(std::string_view html) {
  GumboOptions options = kGumboDefaultOptions;
  options.allocator = allocate;
  options.deallocator = deallocate;
  options.userdata = this;
  options.max_errors = 0;  // parse errors are not used: recording them costs time and memory
  return gumbo_parse_with_options(&options, html.data(), html.size());
}

void* GumboArena::allocate(void* self, size_t size) { return static_cast<GumboArena*>(self)->take(size); }

void* GumboArena::take(size_t size) {
  size = (size + 15) & ~size_t{15};
  if (size > left_) {
    next_block_ = std::min<size_t>(next_block_ * 2, 8 << 20);
    const size_t bytes = std::max(size, next_block_);
    blocks_.emplace_back(new unsigned char[bytes]);  // not zeroed: gumbo initializes what it uses
    free_ = blocks_.back().get();
    left_ = bytes;
  }
  void* p = free_;
  free_ += size;
  left_ -= size;
  return p;
}

const char* attribute(const GumboElement& e, const char* name) {
  const GumboAttribute* a = gumbo_get_attribute(&e.attributes, name);
  return a ? a->value : nullptr;
}

const GumboVector* children_of(const GumboNode* n) {
  if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE) return &n->v.element.children;
  if (n->type == GUMBO_NODE_DOCUMENT) return &n->v.document.children;
  return nullptr;
}

bool is_tag(const GumboNode* n, GumboTag tag) {
  return n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == tag && n->v.element.tag_namespace == GUMBO_NAMESPACE_HTML;
}

bool has_role(const GumboNode* n, const char* role) {
  if (n->type != GUMBO_NODE_ELEMENT) return false;
  const char* r = attribute(n->v.element, "role");
  return r && ascii_iequals(r, role);
}

const GumboNode* find_first(const GumboNode* root, GumboTag tag) {
  const GumboNode* found = nullptr;
  walk_elements(root, [&](const GumboNode* n) {
    if (found) return false;
    if (is_tag(n, tag)) found = n;
    return !found && n->v.element.tag != GUMBO_TAG_SVG;
  });
  return found;
}

bool contains_tag(const GumboNode* root, bool (*match)(GumboTag)) {
  bool found = false;
  walk_elements(root, [&](const GumboNode* n) {
    found = found || match(n->v.element.tag);
    return !found;
  });
  return found;
}

std::string text_content(const GumboNode* root) {
  std::string out;
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
      out += n->v.text.text;
    } else if (n->type == GUMBO_NODE_ELEMENT) {
      if (n->v.element.tag == GUMBO_TAG_BR) out += '\n';
      if (n != root && is_non_content_element(n->v.element)) continue;
      const GumboVector& c = n->v.element.children;
      for (unsigned i = c.length; i-- > 0;) stack.push_back(child(c, i));
    }
  }
  return out;
}

}  // namespace nagare::html
