// Cuts a page's Markdown into the chunks the extraction prompts read one at a time: each at
// most a given number of characters, cut at the best seam the text offers (paragraph, line,
// sentence, word), and carrying the heading it falls under for context.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nagare {

struct ChunkOptions {
  size_t chunk_chars = 2000;  // the most characters (Unicode code points) in one chunk
  size_t overlap_chars = 0;   // how far a chunk reaches back into the one before it
};

struct TextChunk {
  int index = 0;              // 0-based within the document
  size_t begin = 0, end = 0;  // byte offsets into the document: text == document.substr(begin, end - begin)
  std::string text;           // the chunk, without whitespace (blank lines) around it
  std::string heading;        // the nearest Markdown heading at or before `begin`, without its
                              // '#'s ("" if none), for context in the prompt
};

// Greedy: a chunk takes as many whole paragraphs as fit, and is cut, in order of preference,
// at a paragraph boundary (blank line), a line break, a sentence end (". ", "! ", "? ", and
// '。' '．' '！' '？' with no space needed), a word boundary (a space, or '、' '，'), and only
// as a last resort at any code point boundary (never inside a UTF-8 sequence; an invalid byte
// counts as one character). A seam that would leave the chunk under a quarter full is not
// taken, nor one right after a heading line, so chunks are never tiny and a heading stays with
// its text. A cut inside a fenced code block or a table moves to a seam outside it when one
// lies in the chunk's last fifth. With overlap, the next chunk starts `overlap_chars` before
// the previous end, moved forward to a sentence or word start where one is near, and always
// ends past the previous end. An empty or whitespace-only document gives no chunks.
// Throws nagare::Error when chunk_chars < 100 or overlap_chars >= chunk_chars / 2.
std::vector<TextChunk> chunk_markdown(std::string_view document, const ChunkOptions& options);

}  // namespace nagare
