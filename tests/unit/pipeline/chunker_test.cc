// Chunking Markdown for the extraction prompts: limits in code points (English and Japanese),
// where cuts fall (paragraphs, sentences with and without spaces, never inside a code block or
// table when a seam outside is near), overlap, progress on text with no seams at all, offsets,
// headings, and a property test over random documents.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "pipeline/chunker.h"
#include "util/error.h"

namespace nagare {
namespace {

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string non_space(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!is_space(c)) out += c;
  return out;
}

// What every chunking must satisfy.
void expect_well_formed(std::string_view doc, const std::vector<TextChunk>& chunks, const ChunkOptions& o,
                        bool valid_utf8 = true) {
  for (size_t i = 0; i < chunks.size(); ++i) {
    const TextChunk& c = chunks[i];
    EXPECT_EQ(c.index, int(i));
    ASSERT_LT(c.begin, c.end);
    ASSERT_LE(c.end, doc.size());
    EXPECT_EQ(c.text, doc.substr(c.begin, c.end - c.begin));
    EXPECT_LE(code_points(c.text), o.chunk_chars) << "chunk " << i;
    EXPECT_FALSE(is_space(c.text.front()) || is_space(c.text.back())) << "chunk " << i;
    if (valid_utf8) {  // never inside a UTF-8 sequence
      EXPECT_NE(static_cast<unsigned char>(doc[c.begin]) & 0xC0, 0x80) << "chunk " << i;
      if (c.end < doc.size()) {
        EXPECT_NE(static_cast<unsigned char>(doc[c.end]) & 0xC0, 0x80) << "chunk " << i;
      }
    }
    if (i > 0) {
      EXPECT_GT(c.begin, chunks[i - 1].begin);
      EXPECT_GT(c.end, chunks[i - 1].end);
      if (o.overlap_chars == 0) {
        EXPECT_GE(c.begin, chunks[i - 1].end);
      }
    }
  }
}

// Without overlap, the chunks hold every non-whitespace character of the document, in order.
void expect_covers(std::string_view doc, const std::vector<TextChunk>& chunks) {
  std::string joined;
  for (const TextChunk& c : chunks) joined += c.text;
  EXPECT_EQ(non_space(joined), non_space(doc));
}

std::string english_paragraph(std::mt19937& rng, int sentences) {
  static const char* words[] = {"the", "council", "voted", "on", "a", "plan", "to", "build", "lanes",
                                "street", "drivers", "lose", "parking", "spaces", "construction", "begins"};
  std::string p;
  for (int s = 0; s < sentences; ++s) {
    const int n = 5 + int(rng() % 12);
    for (int w = 0; w < n; ++w) {
      std::string word = words[rng() % std::size(words)];
      if (w == 0) word[0] = char(word[0] - 'a' + 'A');
      p += word;
      p += w + 1 == n ? (rng() % 4 == 0 ? "? " : ". ") : " ";
    }
  }
  p.pop_back();
  return p;
}

std::string japanese_paragraph(std::mt19937& rng, int sentences) {
  static const char* phrases[] = {"気象台は", "十九日、", "市内の標本木で", "桜が開花したと", "発表した", "平年より五日早く",
                                  "満開は来週末ごろに", "なる見込みだという"};
  std::string p;
  for (int s = 0; s < sentences; ++s) {
    const int n = 2 + int(rng() % 4);
    for (int k = 0; k < n; ++k) p += phrases[rng() % std::size(phrases)];
    p += s % 5 == 4 ? "！" : "。";
  }
  return p;
}

TEST(ChunkMarkdown, RejectsBadOptions) {
  EXPECT_THROW(chunk_markdown("x", {99, 0}), Error);
  EXPECT_THROW(chunk_markdown("x", {100, 50}), Error);
  EXPECT_THROW(chunk_markdown("x", {1000, 600}), Error);
  EXPECT_NO_THROW(chunk_markdown("x", {100, 49}));
}

TEST(ChunkMarkdown, EmptyAndSmallDocuments) {
  EXPECT_TRUE(chunk_markdown("", {}).empty());
  EXPECT_TRUE(chunk_markdown(" \n\n\t \n", {}).empty());
  const std::string doc = "\n\n# Title\n\nOne short paragraph.\n\n";
  const auto chunks = chunk_markdown(doc, {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "# Title\n\nOne short paragraph.");
  EXPECT_EQ(chunks[0].begin, 2u);
  EXPECT_EQ(chunks[0].end, doc.size() - 2);
  EXPECT_EQ(chunks[0].heading, "Title");
}

TEST(ChunkMarkdown, WholeParagraphsWhenTheyFit) {
  std::mt19937 rng(7);
  std::string doc;
  std::vector<std::string> paragraphs;
  for (int i = 0; i < 30; ++i) {
    paragraphs.push_back(english_paragraph(rng, 3));
    doc += paragraphs.back() + "\n\n";
  }
  const ChunkOptions o{1000, 0};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o);
  expect_covers(doc, chunks);
  ASSERT_GT(chunks.size(), 2u);
  for (const TextChunk& c : chunks) {
    // Each chunk starts and ends at a paragraph's edge.
    EXPECT_TRUE(c.begin == 0 || doc.substr(c.begin - 2, 2) == "\n\n") << c.text;
    EXPECT_EQ(doc.substr(c.end, 2), "\n\n") << c.text;
  }
}

TEST(ChunkMarkdown, LimitsAreCodePointsInEnglishAndJapanese) {
  std::mt19937 rng(11);
  std::string en, ja;
  for (int i = 0; i < 12; ++i) en += english_paragraph(rng, 10) + "\n\n";
  for (int i = 0; i < 12; ++i) ja += japanese_paragraph(rng, 10) + "\n\n";
  const ChunkOptions o{300, 0};
  for (const std::string* doc : {&en, &ja}) {
    const auto chunks = chunk_markdown(*doc, o);
    expect_well_formed(*doc, chunks, o);
    expect_covers(*doc, chunks);
  }
  // Japanese takes three bytes a character: chunks are up to 300 characters, not 300 bytes.
  const auto chunks = chunk_markdown(ja, o);
  size_t longest = 0;
  for (const TextChunk& c : chunks) longest = std::max(longest, c.text.size());
  EXPECT_GT(longest, 600u);
}

TEST(ChunkMarkdown, JapaneseSentencesEndAtFullStops) {
  std::mt19937 rng(3);
  const std::string doc = japanese_paragraph(rng, 80);  // one paragraph, no spaces, no newlines
  const ChunkOptions o{200, 0};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o);
  expect_covers(doc, chunks);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    const std::string& t = chunks[i].text;
    EXPECT_TRUE(t.ends_with("。") || t.ends_with("！")) << t;
    EXPECT_GE(code_points(t), 50u);  // no seam under a quarter of the chunk is taken
  }
}

TEST(ChunkMarkdown, EnglishSentencesEndAtStops) {
  std::mt19937 rng(5);
  const std::string doc = english_paragraph(rng, 60);
  const ChunkOptions o{250, 0};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o);
  expect_covers(doc, chunks);
  for (size_t i = 0; i + 1 < chunks.size(); ++i)
    EXPECT_TRUE(chunks[i].text.ends_with(".") || chunks[i].text.ends_with("?")) << chunks[i].text;
  // A closing quote stays with its sentence.
  const std::string quoted = std::string(150, 'a') + " said \"it is done.\" " + std::string(150, 'b');
  const auto q = chunk_markdown(quoted, {200, 0});
  ASSERT_EQ(q.size(), 2u);
  EXPECT_TRUE(q[0].text.ends_with("done.\"")) << q[0].text;
}

TEST(ChunkMarkdown, WordsWhenThereAreNoSentences) {
  std::string doc;
  for (int i = 0; i < 200; ++i) doc += "word" + std::to_string(i) + " ";
  const ChunkOptions o{100, 0};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o);
  expect_covers(doc, chunks);
  for (const TextChunk& c : chunks) {
    EXPECT_TRUE(c.begin == 0 || doc[c.begin - 1] == ' ');
    EXPECT_TRUE(c.end == doc.size() - 1 || doc[c.end] == ' ');
  }
}

TEST(ChunkMarkdown, ProgressOnASingleHugeWord) {
  const std::string doc(10000, 'x');
  for (const ChunkOptions o : {ChunkOptions{1000, 0}, ChunkOptions{1000, 400}, ChunkOptions{100, 49}}) {
    const auto chunks = chunk_markdown(doc, o);
    expect_well_formed(doc, chunks, o);
    ASSERT_FALSE(chunks.empty());
    EXPECT_EQ(chunks.back().end, doc.size());
    if (o.overlap_chars == 0) {
      EXPECT_EQ(chunks.size(), 10000 / o.chunk_chars);
      for (const TextChunk& c : chunks) EXPECT_EQ(c.text.size(), o.chunk_chars);
    }
  }
  // The same in Japanese: cut between characters, never inside one.
  std::string ja;
  for (int i = 0; i < 3000; ++i) ja += "語";
  const auto chunks = chunk_markdown(ja, {1000, 0});
  ASSERT_EQ(chunks.size(), 3u);
  for (const TextChunk& c : chunks) EXPECT_EQ(c.text.size(), 3000u);
}

TEST(ChunkMarkdown, Overlap) {
  std::mt19937 rng(13);
  std::string doc;
  for (int i = 0; i < 8; ++i) doc += english_paragraph(rng, 8) + "\n\n";
  const ChunkOptions o{400, 100};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 1; i < chunks.size(); ++i) {
    const TextChunk& prev = chunks[i - 1];
    const TextChunk& c = chunks[i];
    EXPECT_LT(c.begin, prev.end) << "chunk " << i << " does not overlap";
    // Starts within the last overlap_chars of the one before (ASCII here: bytes are characters),
    // at a word or sentence start.
    EXPECT_LE(prev.end - c.begin, o.overlap_chars + 1);
    EXPECT_TRUE(is_space(doc[c.begin - 1])) << c.text.substr(0, 20);
  }
  expect_covers(doc, chunk_markdown(doc, {400, 0}));
}

TEST(ChunkMarkdown, HeadingsAreCarried) {
  std::mt19937 rng(17);
  std::string doc = "Intro text before any heading.\n\n# Main Title\n\n";
  doc += english_paragraph(rng, 20) + "\n\n## Second part ##\n\n" + english_paragraph(rng, 20) + "\n\n";
  doc += "```\n# not a heading: code\n```\n\n" + english_paragraph(rng, 20) + "\n";
  const ChunkOptions o{300, 0};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o);
  expect_covers(doc, chunks);
  const size_t second = doc.find("## Second part");
  EXPECT_EQ(chunks[0].heading, "") << chunks[0].text;
  for (const TextChunk& c : chunks) {
    if (c.begin < doc.find("# Main Title")) continue;
    EXPECT_EQ(c.heading, c.begin < second ? "Main Title" : "Second part") << c.text.substr(0, 40);
  }
  // A heading is not left alone at the end of a chunk: it stays with the text under it.
  for (const TextChunk& c : chunks) EXPECT_FALSE(c.text.ends_with("Second part ##")) << c.text;
  std::string titled = "# A title\n\n";
  while (titled.size() < 600) titled += "Words in one long paragraph. ";
  const auto t = chunk_markdown(titled, {200, 0});
  ASSERT_GT(t.size(), 1u);
  EXPECT_TRUE(t[0].text.starts_with("# A title\n\nWords in one")) << t[0].text;
}

TEST(ChunkMarkdown, AvoidsCuttingCodeBlocksAndTables) {
  // A paragraph, then a code block that runs past the limit: the cut goes before the fence
  // (in the chunk's last fifth), not between two lines of code.
  std::string prose;
  while (prose.size() < 850) prose += "Some words of prose here. ";
  prose.pop_back();
  std::string code = "```\n";
  for (int i = 0; i < 40; ++i) code += "call(" + std::to_string(i) + ");\n";
  code += "```\n";
  for (const std::string& block : {code, std::string()}) {
    std::string body = block;
    if (block.empty()) {  // the same with a table
      for (int i = 0; i < 40; ++i) body += "| row " + std::to_string(i) + " | value |\n";
    }
    const std::string doc = prose + "\n" + body + "\nAfter.\n";
    const ChunkOptions o{1000, 0};
    const auto chunks = chunk_markdown(doc, o);
    expect_well_formed(doc, chunks, o);
    expect_covers(doc, chunks);
    ASSERT_GE(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].text, prose) << "cut at " << chunks[0].end;
  }
}

TEST(ChunkMarkdown, InvalidUtf8CountsBytesAsCharacters) {
  std::string doc;
  for (int i = 0; i < 500; ++i) doc += (i % 7 == 0) ? "\xFF" : (i % 11 == 0 ? "\xE3\x81" : "ab ");
  const ChunkOptions o{100, 20};
  const auto chunks = chunk_markdown(doc, o);
  expect_well_formed(doc, chunks, o, false);
  EXPECT_EQ(chunks.back().end, doc.size() - (doc.back() == ' ' ? 1 : 0));
}

// Random documents of every kind of line (fixed seed): the invariants hold and, without
// overlap, nothing but whitespace is lost or reordered.
TEST(ChunkMarkdown, PropertyOverRandomDocuments) {
  std::mt19937 rng(20240319);
  for (int round = 0; round < 300; ++round) {
    std::string doc;
    const int blocks = 1 + int(rng() % 30);
    for (int b = 0; b < blocks; ++b) {
      switch (rng() % 9) {
        case 0: doc += "# Heading " + std::to_string(b) + "\n"; break;
        case 1: doc += english_paragraph(rng, 1 + int(rng() % 12)); break;
        case 2: doc += japanese_paragraph(rng, 1 + int(rng() % 12)); break;
        case 3: doc += "```\ncode line " + std::to_string(b) + "\n  indented\n```"; break;
        case 4: doc += "| a | b |\n| --- | --- |\n| 1 | 2 |"; break;
        case 5: doc += "- item one\n  - nested item\n- item two"; break;
        case 6: doc += std::string(1 + rng() % 700, char('a' + rng() % 26)); break;
        case 7: doc += std::string(1 + rng() % 5, '\n'); break;
        default: doc += "  \t "; break;
      }
      doc += rng() % 2 ? "\n\n" : "\n";
    }
    const size_t size = 100 + rng() % 400;
    const ChunkOptions plain{size, 0};
    const auto chunks = chunk_markdown(doc, plain);
    expect_well_formed(doc, chunks, plain);
    expect_covers(doc, chunks);
    const ChunkOptions overlapping{size, rng() % (size / 2)};
    const auto with_overlap = chunk_markdown(doc, overlapping);
    expect_well_formed(doc, with_overlap, overlapping);
    if (!chunks.empty()) {
      EXPECT_EQ(with_overlap.front().begin, chunks.front().begin);
      EXPECT_EQ(with_overlap.back().end, chunks.back().end);
    }
    if (HasFailure()) {
      ADD_FAILURE() << "round " << round << ", chunk_chars " << size;
      return;
    }
  }
}

}  // namespace
}  // namespace nagare
