#include "pipeline/chunker.h"

#include <algorithm>
#include <cstdint>

#include "util/error.h"
#include "util/utf8.h"

namespace nagare {
namespace {

// How good a place to cut is; higher is better.
enum Level : uint8_t { kAny = 0, kWord = 1, kSentence = 2, kLine = 3, kParagraph = 4 };

bool is_space(uint32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// One code point at s[i]: its length in bytes, and its value (U+FFFD for an invalid byte, which
// counts as one character of one byte).
size_t decode(std::string_view s, size_t i, uint32_t* cp) {
  size_t next = i;
  *cp = next_code_point(s, next);
  return next - i;
}

bool is_cjk_terminal(uint32_t c) { return c == 0x3002 || c == 0xFF0E || c == 0xFF01 || c == 0xFF1F; }
bool is_cjk_comma(uint32_t c) { return c == 0x3001 || c == 0xFF0C; }
// Closing quotes and brackets that belong to the sentence before them.
bool is_closer(uint32_t c) {
  return c == '"' || c == '\'' || c == ')' || c == ']' || c == '*' || c == '_' || c == 0x2019 || c == 0x201D ||
         c == 0x300D || c == 0x300F || c == 0xFF09 || c == 0x3011 || c == 0x3015 || c == 0x300B;
}

// Where the text stands after a code point, for telling sentence ends from other seams.
enum class After : uint8_t { kOther, kTerminal, kTerminalSpace, kSpace, kCjkTerminal, kComma };

After advance(After st, uint32_t c) {
  if (c == '.' || c == '!' || c == '?') return After::kTerminal;
  if (is_cjk_terminal(c)) return After::kCjkTerminal;
  if (is_cjk_comma(c)) return After::kComma;
  if (is_space(c)) return st == After::kTerminal || st == After::kTerminalSpace || st == After::kCjkTerminal
                              ? After::kTerminalSpace
                              : After::kSpace;
  if (is_closer(c) && (st == After::kTerminal || st == After::kCjkTerminal)) return st;
  return After::kOther;
}

struct Line {
  size_t begin = 0, end = 0;  // end: the '\n' or the document's end
  bool blank = false;
  bool after_heading = false;  // the nearest non-blank line before it is a heading
  int region = 0;              // fenced code block or table it belongs to (0: none)
  int heading = -1;            // the nearest heading line at or before it
};

std::string_view strip_prefix(std::string_view s, std::string_view chars) {
  const size_t k = s.find_first_not_of(chars);
  return k == std::string_view::npos ? std::string_view() : s.substr(k);
}

bool is_heading_line(std::string_view line) {
  if (line.find_first_not_of(' ') > 3) return false;
  line = strip_prefix(line, " ");
  size_t n = 0;
  while (n < line.size() && line[n] == '#') ++n;
  return n >= 1 && n <= 6 && (n == line.size() || line[n] == ' ' || line[n] == '\t');
}

std::vector<Line> scan_lines(std::string_view doc) {
  std::vector<Line> lines;
  int regions = 0;
  char fence_char = 0;  // inside a fenced code block when set
  size_t fence_len = 0;
  bool table = false;
  int last_heading = -1;
  bool heading_before = false;
  for (size_t b = 0; b <= doc.size();) {
    size_t e = doc.find('\n', b);
    if (e == std::string_view::npos) e = doc.size();
    const std::string_view text = doc.substr(b, e - b);
    Line line{b, e};
    line.blank = text.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
    const std::string_view t = strip_prefix(text, " \t>");  // quote markers and list indentation
    size_t run = 0;
    while (run < t.size() && (t[run] == '`' || t[run] == '~') && t[run] == t[0]) ++run;
    if (fence_char) {
      line.region = regions;
      if (run >= fence_len && t[0] == fence_char && t.find_first_not_of(" \t\r", run) == std::string_view::npos)
        fence_char = 0;
      table = false;
    } else if (run >= 3) {
      fence_char = t[0], fence_len = run;
      line.region = ++regions;
      table = false;
    } else if (!t.empty() && t[0] == '|') {
      if (!table) ++regions;
      line.region = regions;
      table = true;
    } else {
      table = false;
    }
    line.after_heading = heading_before;
    if (!line.region && is_heading_line(text)) last_heading = int(lines.size());
    line.heading = last_heading;
    if (!line.blank) heading_before = !line.region && is_heading_line(text);
    lines.push_back(line);
    b = e + 1;
  }
  return lines;
}

std::string heading_text(std::string_view line) {
  line = strip_prefix(line, " #\t");
  while (!line.empty() && (line.back() == '#' || is_space(uint8_t(line.back())))) line.remove_suffix(1);
  return std::string(line);
}

struct Seam {
  size_t pos = 0;  // the byte offset the cut would be at
  Level level = kAny;
  bool inside = false;  // inside a fenced code block or table
};

class Chunker {
 public:
  Chunker(std::string_view doc, const ChunkOptions& o) : doc_(doc), o_(o), lines_(scan_lines(doc)) {}

  std::vector<TextChunk> run() {
    std::vector<TextChunk> chunks;
    size_t start = skip_space(0);
    // Each chunk must take in the first non-space character after the one before it, so that
    // chunks always move on, overlap or not.
    size_t must_pass = start;
    while (start < doc_.size()) {
      const bool last = fill_window(start);
      if (!last && seams_.back().pos <= must_pass) {  // the overlap reached back too far
        start = must_pass;
        continue;
      }
      const size_t cut = seams_[last ? seams_.size() - 1 : choose_cut(must_pass)].pos;
      const size_t end = add_chunk(chunks, start, cut);
      must_pass = skip_space(end);
      if (last || must_pass >= doc_.size()) break;
      start = skip_space(next_start(cut));
    }
    return chunks;
  }

 private:
  size_t skip_space(size_t p) const {
    while (p < doc_.size() && is_space(uint8_t(doc_[p]))) ++p;
    return p;
  }

  size_t line_of(size_t pos) const {  // the line holding byte `pos`
    auto it = std::upper_bound(lines_.begin(), lines_.end(), pos, [](size_t p, const Line& l) { return p < l.begin; });
    return size_t(it - lines_.begin()) - 1;
  }

  // The seams after each of the next chunk_chars code points from `start`; true when the
  // document ends within them.
  bool fill_window(size_t start) {
    seams_.clear();
    size_t li = line_of(start);
    After st = After::kOther;
    size_t pos = start;
    uint32_t cp = 0;
    size_t len = decode(doc_, pos, &cp);
    while (seams_.size() < o_.chunk_chars && pos < doc_.size()) {
      const size_t next = pos + len;
      st = advance(st, cp);
      uint32_t ncp = 0;
      const size_t nlen = next < doc_.size() ? decode(doc_, next, &ncp) : 0;
      Seam s{next};
      if (cp == '\n') {
        ++li;
        const Line& cur = lines_[li];
        const Line& prev = lines_[li - 1];
        s.inside = cur.region != 0 && cur.region == prev.region;
        s.level = prev.blank && !cur.blank ? kParagraph : kLine;
        if (s.inside) s.level = kLine;
        if (cur.after_heading) s.level = kWord;  // keep a heading with its text
        st = After::kOther;
      } else {
        s.inside = lines_[li].region != 0;
        s.level = mid_line_level(st, ncp);
      }
      seams_.push_back(s);
      pos = next;
      cp = ncp;
      len = nlen;
    }
    return pos >= doc_.size();
  }

  static Level mid_line_level(After st, uint32_t next) {
    if (next == 0 || is_space(next)) return kAny;  // the seam comes after the whole space run
    switch (st) {
      case After::kTerminalSpace: return kSentence;
      case After::kCjkTerminal: return is_closer(next) || is_cjk_terminal(next) ? kAny : kSentence;
      case After::kSpace: return kWord;
      case After::kComma: return is_closer(next) ? kAny : kWord;
      default: return kAny;
    }
  }

  size_t choose_cut(size_t must_pass) const {
    const size_t floor = o_.chunk_chars / 4;
    auto best_in = [&](size_t from, bool outside_only) {
      size_t best = seams_.size();
      for (size_t k = from; k < seams_.size(); ++k) {
        const Seam& s = seams_[k];
        if (s.level == kAny || s.pos <= must_pass || (outside_only && s.inside)) continue;
        if (best == seams_.size() || s.level >= seams_[best].level) best = k;
      }
      return best;
    };
    // Index k is the seam after k + 1 code points.
    const size_t best = best_in(floor > 0 ? floor - 1 : 0, false);
    if (best == seams_.size()) return seams_.size() - 1;  // no seam at all: any code point boundary
    if (seams_[best].inside) {
      const size_t outside = best_in(seams_.size() * 4 / 5, true);
      if (outside != seams_.size()) return outside;
    }
    return best;
  }

  // Where the chunk after the one cut at `cut` starts: overlap_chars before the cut, moved
  // forward to a sentence or word start when one is within half the overlap.
  size_t next_start(size_t cut) const {
    if (o_.overlap_chars == 0) return cut;
    size_t cut_index = 0;
    while (seams_[cut_index].pos < cut) ++cut_index;
    // Past the chunk's start in any case (seams_[0] is one code point in).
    const size_t from = cut_index >= o_.overlap_chars ? cut_index - o_.overlap_chars : 0;
    const size_t to = std::min(cut_index, from + o_.overlap_chars / 2);
    for (const Level want : {kSentence, kWord})
      for (size_t k = from; k < to; ++k)
        if (seams_[k].level >= want) return seams_[k].pos;
    return seams_[from].pos;
  }

  // Adds document[begin, end) less the whitespace at its end; returns where it ends then.
  size_t add_chunk(std::vector<TextChunk>& chunks, size_t begin, size_t end) const {
    while (end > begin && is_space(uint8_t(doc_[end - 1]))) --end;
    TextChunk c;
    c.index = int(chunks.size());
    c.begin = begin;
    c.end = end;
    c.text = std::string(doc_.substr(begin, end - begin));
    const int h = lines_[line_of(begin)].heading;
    if (h >= 0) c.heading = heading_text(doc_.substr(lines_[h].begin, lines_[h].end - lines_[h].begin));
    chunks.push_back(std::move(c));
    return end;
  }

  std::string_view doc_;
  ChunkOptions o_;
  std::vector<Line> lines_;
  std::vector<Seam> seams_;
};

}  // namespace

std::vector<TextChunk> chunk_markdown(std::string_view document, const ChunkOptions& options) {
  if (options.chunk_chars < 100)
    throw Error("chunk size " + std::to_string(options.chunk_chars) + " is too small: use at least 100 characters");
  if (options.overlap_chars >= options.chunk_chars / 2)
    throw Error("chunk overlap " + std::to_string(options.overlap_chars) + " must be less than half the chunk size (" +
                std::to_string(options.chunk_chars) + ")");
  return Chunker(document, options).run();
}

}  // namespace nagare
