// Helpers over gumbo's parse tree for the HTML converter: an arena to parse into, tag and
// attribute tests, walks without recursion (a page's tree may be deep), and text content.
#pragma once

#include <gumbo.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nagare::html {

// Memory for one parse. Gumbo allocates every node, string and vector on its own and frees its
// tree recursively: from an arena, parsing is faster and the tree goes in one step, however
// deep it is. Gumbo's frees while parsing are ignored; they are a small part of what it takes.
class GumboArena {
 public:
  GumboArena() = default;
  GumboArena(const GumboArena&) = delete;
  GumboArena& operator=(const GumboArena&) = delete;

  // `html` parsed into this arena; the tree lives as long as the arena.
  const GumboOutput* parse(std::string_view html);

 private:
  static void* allocate(void* self, size_t size);
  static void deallocate(void*, void*) {}
  void* take(size_t size);

  std::vector<std::unique_ptr<unsigned char[]>> blocks_;
  unsigned char* free_ = nullptr;
  size_t left_ = 0;
  size_t next_block_ = 32 << 10;
};

// The value of attribute `name`, or nullptr.
const char* attribute(const GumboElement& e, const char* name);

// The children of an element, template or document; nullptr for other nodes.
const GumboVector* children_of(const GumboNode* n);
inline const GumboNode* child(const GumboVector& v, unsigned i) { return static_cast<const GumboNode*>(v.data[i]); }

// An HTML (not SVG or MathML) element with this tag.
bool is_tag(const GumboNode* n, GumboTag tag);
inline bool is_heading_tag(GumboTag t) { return t >= GUMBO_TAG_H1 && t <= GUMBO_TAG_H6; }
bool has_role(const GumboNode* n, const char* role);

// Visits the elements under `root` (not `root` itself) in document order without recursion;
// `visit(const GumboNode*)` returns whether to go inside the element.
template <class Visit>
void walk_elements(const GumboNode* root, Visit&& visit) {
  std::vector<const GumboNode*> stack;
  auto push_children = [&](const GumboNode* n) {
    if (const GumboVector* c = children_of(n))
      for (unsigned i = c->length; i-- > 0;) stack.push_back(child(*c, i));
  };
  push_children(root);
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (n->type == GUMBO_NODE_ELEMENT && visit(n)) push_children(n);
  }
}

// The first element with `tag` under `root` (not inside <svg>, which has <title>s of its own).
const GumboNode* find_first(const GumboNode* root, GumboTag tag);

bool contains_tag(const GumboNode* root, bool (*match)(GumboTag));

// All text under `root` as written, <br> as a newline; what never renders (scripts, forms'
// controls, ...) left out.
std::string text_content(const GumboNode* root);

}  // namespace nagare::html
