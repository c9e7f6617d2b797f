// libFuzzer target for the extraction pipeline's page text: the input is a fetched page's body.
// It goes through detect_charset and to_utf8 (which must not throw for a detected charset),
// then html_to_markdown (both on the converted text and on the raw bytes, invalid UTF-8 and all)
// and chunk_markdown on the Markdown and on the raw bytes. The Markdown must be valid UTF-8
// with no trailing spaces, no runs of blank lines and one final newline; every chunk must be
// within its limit, match its offsets and move forward, and without overlap the chunks must
// keep every non-space character of the document in order. Any exception or broken property
// aborts, so libFuzzer reports it.
// Build and run: see tests/fuzz/CMakeLists.txt and docs/fuzzing.md.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/charset.h"
#include "pipeline/chunker.h"
#include "pipeline/html_to_markdown.h"
#include "util/utf8.h"

namespace {

using namespace nagare;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void check(bool ok) {
  if (!ok) std::abort();
}

void check_markdown(const std::string& md) {
  check(is_valid_utf8(md));
  if (md.empty()) return;
  check(md.back() == '\n' && !md.ends_with("\n\n") && md.front() != '\n');
  check(md.find("\n\n\n") == std::string::npos && md.find(" \n") == std::string::npos);
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

size_t check_chunks(std::string_view doc, const ChunkOptions& o, bool utf8) {
  const std::vector<TextChunk> chunks = chunk_markdown(doc, o);
  std::string joined;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const TextChunk& c = chunks[i];
    check(c.index == int(i) && c.begin < c.end && c.end <= doc.size());
    check(c.text == doc.substr(c.begin, c.end - c.begin));
    check(!is_space(c.text.front()) && !is_space(c.text.back()));
    // Invalid bytes count one each, so the code point count of valid text bounds it.
    if (utf8) check(code_points(c.text) <= o.chunk_chars);
    check(c.text.size() <= 4 * o.chunk_chars);
    if (i > 0) check(c.begin > chunks[i - 1].begin && c.end > chunks[i - 1].end);
    if (o.overlap_chars == 0) joined += c.text;
  }
  if (o.overlap_chars == 0) {
    std::string a, b;
    for (char c : joined)
      if (!is_space(c)) a += c;
    for (char c : doc)
      if (!is_space(c)) b += c;
    check(a == b);
  }
  return chunks.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::string charset = detect_charset("text/html", body);
  const std::string text = to_utf8(body, charset);
  check(is_valid_utf8(text));
  const MarkdownPage page = html_to_markdown(text, "https://example.com/a/b/c.html?q=1#f");
  check_markdown(page.markdown);
  check(is_valid_utf8(page.title) && is_valid_utf8(page.language));
  check_markdown(html_to_markdown(body, "").markdown);
  size_t sum = 0;
  for (const ChunkOptions o : {ChunkOptions{100, 0}, ChunkOptions{100, 49}, ChunkOptions{160, 30}}) {
    sum += check_chunks(page.markdown, o, true);
    sum += check_chunks(body, o, is_valid_utf8(body));
  }
  return sum == 0xdeadbeef;  // keeps `sum` alive; libFuzzer ignores the value
}
