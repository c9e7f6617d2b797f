// The local document index: building it from a directory of English and Japanese Markdown, text
// and HTML (one in Shift_JIS), skipping what is not text, re-indexing only changes, ranking, and
// queries that would be FTS5 syntax errors if passed through raw.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "pipeline/local_index.h"
#include "pipeline/local_index_text.h"
#include "pipeline/search_local.h"
#include "util/error.h"

namespace nagare {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Shift_JIS bytes of: <meta charset="Shift_JIS"><title>大阪の食べ物</title> ... <h1>大阪</h1>
// <p>大阪はたこ焼きとお好み焼きで有名です。</p>
const char* kShiftJisHtml =
    "<html><head><meta charset=\x22Shift_JIS\x22><title>\x91\xe5\x8d\xe3\x82\xcc\x90H\x82\xd7\x95\xa8</title></head>"
    "<body><h1>\x91\xe5\x8d\xe3</h1><p>\x91\xe5\x8d\xe3\x82\xcd\x82\xbd\x82\xb1\x8f\xc4\x82\xab\x82\xc6\x82\xa8\x8d"
    "D\x82\xdd\x8f\xc4\x82\xab\x82\xc5\x97L\x96\xbc\x82\xc5\x82\xb7\x81"
    "B</p></body></html>";

class LocalIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("nagare_index_test_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    corpus_ = root_ / "corpus";
    write(corpus_ / "en/tokyo.md",
          "# Tokyo\n\nTokyo is the capital of Japan. The population of Tokyo is about fourteen million people, "
          "and the Tokyo metropolitan area is the most populous in the world.\n\nTokyo hosts the national government.\n");
    write(corpus_ / "en/bread.md",
          "# Baking bread\n\nSourdough bread needs flour, water, salt and a starter. Knead the dough, let it rise "
          "overnight, and bake the bread in a hot oven.\n");
    write(corpus_ / "en/garden.txt", "Gardening notes\n\nTomatoes want sun and regular watering. Prune the basil.\n");
    write(corpus_ / "ja/tokyo.md", "# 東京\n\n東京都の人口は約1400万人です。日本の首都であり、政治と経済の中心です。\n");
    write(corpus_ / "ja/kyoto.html",
          "<!doctype html><html><head><meta charset=\"utf-8\"><title>京都の寺</title></head><body>"
          "<h1>京都</h1><p>京都には金閣寺や清水寺など多くの寺があります。観光客に人気です。</p></body></html>");
    write(corpus_ / "ja/osaka_sjis.html", kShiftJisHtml);
    // Text files that do not say their charset: Shift_JIS, EUC-JP and Latin-1.
    write(corpus_ / "ja/sapporo_sjis.txt",  // 札幌\n\n札幌のラーメンは味噌味が有名です。
          "\x8e" "D\x96y\x0a\x0a\x8e" "D\x96y\x82\xcc\x83\x89\x81[\x83\x81\x83\x93\x82\xcd\x96\xa1\x91X\x96\xa1\x82\xaa\x97L"
          "\x96\xbc\x82\xc5\x82\xb7\x81" "B\x0a");
    write(corpus_ / "ja/nagoya_eucjp.md",  // 名古屋\n\n名古屋の味噌カツは人気があります。
          "\xcc\xbe\xb8\xc5\xb2\xb0\x0a\x0a\xcc\xbe\xb8\xc5\xb2\xb0\xa4\xce\xcc\xa3\xc1\xb9\xa5\xab\xa5\xc4\xa4\xcf\xbf\xcd"
          "\xb5\xa4\xa4\xac\xa4\xa2\xa4\xea\xa4\xde\xa4\xb9\xa1\xa3\x0a");
    write(corpus_ / "en/latin1.txt", "Dessert notes\n\nCaf\xe9 cr\xe8me br\xfbl\xe9" "e needs a torch.\n");
    // Documents that name the query terms once, in passing, among much else.
    write(corpus_ / "en/travel.md",
          "# Travel diary\n\n" + repeat("We took the night train through the Alps and visited museums in Vienna. ", 6) +
              "A friend once flew on to Tokyo. " + repeat("The food in Lyon was excellent and the markets were busy. ", 6));
    write(corpus_ / "ja/travel.md", "# 旅行記\n\n" + repeat("大阪から京都へ電車で移動し、古い町並みを歩きました。", 5) +
                                         "帰りに東京にも少し立ち寄りました。" + repeat("夕食は駅の近くの店でうどんを食べました。", 5));
    write(corpus_ / "blob.txt", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    write(corpus_ / "image.png", "not indexed: not a text extension");
    write(corpus_ / ".hidden/secret.md", "# Secret\n\nzyxwvut hidden words\n");
    write(corpus_ / ".dotfile.md", "# Dot\n\nzyxwvut dot words\n");
    write(root_ / "outside.md", "# Outside\n\nqwertyuiop outside words\n");
    fs::create_symlink(root_ / "outside.md", corpus_ / "link_out.md");
    fs::create_symlink(corpus_ / "en/bread.md", corpus_ / "link_in.md");  // inside: followed
    std::ofstream(corpus_ / "huge.txt").close();
    fs::resize_file(corpus_ / "huge.txt", (20u << 20) + 1);  // sparse; skipped before it is read
    db_ = (root_ / "index.db").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string rel(const std::string& path) const { return fs::path(path).lexically_relative(fs::canonical(corpus_)).string(); }
  std::vector<std::string> paths(const std::vector<LocalIndex::Hit>& hits) const {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(rel(h.path));
    return out;
  }
  bool skipped(const IndexStats& s, const std::string& name, const std::string& reason) const {
    for (const auto& line : s.skipped_files)
      if (line.find(name + ": ") != std::string::npos && line.find(reason) != std::string::npos) return true;
    return false;
  }

  fs::path root_, corpus_;
  std::string db_;
};

TEST_F(LocalIndexTest, IndexesTextAndSkipsTheRestWithReasons) {
  LocalIndex index(db_, true);
  std::vector<std::string> seen;
  const IndexStats s = index.add_directory(corpus_.string(), [&](const std::string& p) { seen.push_back(p); });
  EXPECT_EQ(s.added, 12);  // 11 documents + the symlink inside
  EXPECT_EQ(s.updated, 0);
  EXPECT_EQ(s.removed, 0);
  EXPECT_EQ(s.skipped, 3) << ::testing::PrintToString(s.skipped_files);
  EXPECT_TRUE(skipped(s, "blob.txt", "binary")) << ::testing::PrintToString(s.skipped_files);
  EXPECT_TRUE(skipped(s, "huge.txt", "20 MiB"));
  EXPECT_TRUE(skipped(s, "link_out.md", "outside the directory"));
  EXPECT_EQ(index.document_count(), 12);
  EXPECT_EQ(seen.size(), 14u);  // no hidden files, no .png, no link out
  EXPECT_TRUE(index.search("zyxwvut", 5).empty());     // hidden
  EXPECT_TRUE(index.search("qwertyuiop", 5).empty());  // outside
}

TEST_F(LocalIndexTest, ReindexesOnlyChangesAndRemovesWhatIsGone) {
  {
    LocalIndex index(db_, true);
    index.add_directory(corpus_.string());
  }
  LocalIndex index(db_, false);
  IndexStats s = index.add_directory(corpus_.string());
  EXPECT_EQ(s.added + s.updated + s.removed, 0);
  EXPECT_EQ(s.unchanged, 12);

  write(corpus_ / "en/garden.txt", "Gardening notes\n\nCucumbers climb the trellis in July.\n");
  fs::last_write_time(corpus_ / "en/garden.txt", fs::last_write_time(corpus_ / "en/garden.txt") + std::chrono::seconds(5));
  fs::remove(corpus_ / "en/bread.md");  // link_in.md now dangles: neither is indexed
  s = index.add_directory(corpus_.string());
  EXPECT_EQ(s.updated, 1);
  EXPECT_EQ(s.removed, 2);
  EXPECT_EQ(s.unchanged, 9);
  EXPECT_EQ(index.document_count(), 10);
  EXPECT_TRUE(index.search("sourdough", 5).empty());
  EXPECT_TRUE(index.search("Tomatoes", 5).empty());
  ASSERT_EQ(paths(index.search("cucumbers trellis", 5)), std::vector<std::string>{"en/garden.txt"});

  // Another directory's documents stay when this one is re-indexed.
  write(root_ / "other/pasta.md", "# Pasta\n\nSpaghetti carbonara uses guanciale.\n");
  index.add_directory((root_ / "other").string());
  s = index.add_directory(corpus_.string());
  EXPECT_EQ(s.removed, 0);
  EXPECT_EQ(index.search("guanciale", 5).size(), 1u);
}

TEST_F(LocalIndexTest, RanksTheDocumentAboutTheQueryFirst) {
  LocalIndex index(db_, true);
  index.add_directory(corpus_.string());
  auto hits = index.search("bread", 10);
  ASSERT_FALSE(hits.empty());
  EXPECT_TRUE(rel(hits[0].path) == "en/bread.md" || rel(hits[0].path) == "link_in.md");
  EXPECT_EQ(hits[0].title, "Baking bread");
  EXPECT_NE(hits[0].content.find("Sourdough bread needs flour"), std::string::npos);

  hits = index.search("population of Tokyo", 10);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(rel(hits[0].path), "en/tokyo.md");
  EXPECT_GT(hits[0].score, 0);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  EXPECT_NE(hits[0].snippet.find("population"), std::string::npos);

  // The page about Tokyo before the one that names it once, in English and in Japanese.
  EXPECT_EQ(paths(index.search("Tokyo", 10)), (std::vector<std::string>{"en/tokyo.md", "en/travel.md"}));
  EXPECT_EQ(paths(index.search("東京", 10)), (std::vector<std::string>{"ja/tokyo.md", "ja/travel.md"}));

  // Each document once.
  std::set<std::string> unique;
  for (const auto& h : index.search("the", 20)) EXPECT_TRUE(unique.insert(h.path).second) << h.path;
  EXPECT_EQ(index.search("the", 2).size(), 2u);
}

TEST_F(LocalIndexTest, FindsJapaneseByShortAndUnspacedTerms) {
  LocalIndex index(db_, true);
  index.add_directory(corpus_.string());
  // Two-kanji words: below the trigram length, found by the LIKE fallback.
  auto hits = index.search("東京 人口", 5);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(rel(hits[0].path), "ja/tokyo.md");
  EXPECT_NE(hits[0].snippet.find("東京都の人口"), std::string::npos);
  EXPECT_EQ(paths(index.search("人口", 5)), std::vector<std::string>{"ja/tokyo.md"});
  // A phrase with no spaces that is not in the text as such: its trigrams still find it.
  hits = index.search("東京の人口", 5);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(rel(hits[0].path), "ja/tokyo.md");
  hits = index.search("清水寺", 5);
  ASSERT_EQ(paths(hits), std::vector<std::string>{"ja/kyoto.html"});
  EXPECT_EQ(hits[0].title, "京都の寺");
  // Japanese punctuation separates terms.
  EXPECT_EQ(paths(index.search("「金閣寺」、観光", 5)), std::vector<std::string>{"ja/kyoto.html"});
}

TEST_F(LocalIndexTest, ReadsShiftJisHtmlByItsMetaCharset) {
  LocalIndex index(db_, true);
  index.add_directory(corpus_.string());
  const auto hits = index.search("たこ焼き", 5);
  ASSERT_EQ(paths(hits), std::vector<std::string>{"ja/osaka_sjis.html"});
  EXPECT_EQ(hits[0].title, "大阪の食べ物");
  EXPECT_NE(hits[0].content.find("大阪はたこ焼きとお好み焼きで有名です"), std::string::npos);
}

TEST_F(LocalIndexTest, GuessesTheCharsetOfUndeclaredText) {
  LocalIndex index(db_, true);
  index.add_directory(corpus_.string());
  auto hits = index.search("ラーメン", 5);
  ASSERT_EQ(paths(hits), std::vector<std::string>{"ja/sapporo_sjis.txt"});
  EXPECT_EQ(hits[0].title, "札幌");
  hits = index.search("味噌カツ", 5);
  ASSERT_EQ(paths(hits), std::vector<std::string>{"ja/nagoya_eucjp.md"});
  EXPECT_NE(hits[0].content.find("名古屋の味噌カツは人気があります。"), std::string::npos);
  hits = index.search("crème brûlée", 5);
  ASSERT_EQ(paths(hits), std::vector<std::string>{"en/latin1.txt"});
  EXPECT_NE(hits[0].snippet.find("Café crème brûlée"), std::string::npos) << hits[0].snippet;
}

TEST_F(LocalIndexTest, HostileQueriesAreWordsNotSyntax) {
  LocalIndex index(db_, true);
  index.add_directory(corpus_.string());
  for (const char* q : {"\"", "*", "AND(", "NEAR", "NEAR(tokyo bread, 2)", "\"unbalanced", "tokyo OR", "-", "^tokyo",
                        "text:tokyo", "'; DROP TABLE documents; --", "(((", "tokyo*", "\"\"\"\"", "%", "_", "\\", "",
                        "   ", "。、", "a b c"}) {
    EXPECT_NO_THROW(index.search(q, 5)) << q;
  }
  EXPECT_TRUE(index.search("\"", 5).empty());
  EXPECT_TRUE(index.search("*", 5).empty());
  EXPECT_TRUE(index.search("", 5).empty());
  EXPECT_TRUE(index.search("%", 5).empty());  // not a wildcard matching everything
  EXPECT_EQ(paths(index.search("NEAR(sourdough", 5)).size(), 2u);  // bread.md and its link
  EXPECT_EQ(index.document_count(), 12);
}

TEST_F(LocalIndexTest, RefusesFilesThatAreNotItsIndexes) {
  const std::string other = (root_ / "other.db").string();
  sqlite3* db = nullptr;
  sqlite3_open(other.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto error_of = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(error_of([&] { LocalIndex(other, true); }).find("not a nagare index"), std::string::npos);
  write(root_ / "notes.md", repeat("just text, not SQLite\n", 100));
  const std::string e = error_of([&] { LocalIndex((root_ / "notes.md").string(), true); });
  EXPECT_NE(e.find("notes.md: not a nagare index"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { LocalIndex((root_ / "missing.db").string(), false); }).find("nagare index DIR --out"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "missing.db"));
  EXPECT_NE(error_of([&] { LocalIndex(db_, true).add_directory((root_ / "nope").string()); }).find("not a directory"),
            std::string::npos);
}

TEST_F(LocalIndexTest, LocalProviderGivesFileUrlsAndContent) {
  {
    LocalIndex index(db_, true);
    index.add_directory(corpus_.string());
  }
  LocalIndexSearch provider(db_);
  EXPECT_EQ(provider.name(), "local:" + db_);
  const auto r = provider.search("東京 人口", 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].url, "file://" + (fs::canonical(corpus_) / "ja/tokyo.md").string());
  EXPECT_EQ(r[0].title, "東京");
  EXPECT_NE(r[0].content.find("東京都の人口は約1400万人です"), std::string::npos);
  EXPECT_FALSE(r[0].snippet.empty());
}

TEST(LocalIndexText, PassagesFollowParagraphsAndStayInBounds) {
  std::string md;
  for (int i = 0; i < 40; ++i) md += "Paragraph " + std::to_string(i) + " " + repeat("word ", 30) + "\n\n";
  md += repeat("東京都の人口は約1400万人です。", 200);  // one long unspaced paragraph
  const auto passages = split_passages(md);
  ASSERT_GT(passages.size(), 5u);
  size_t words = 0;
  for (size_t i = 0; i < passages.size(); ++i) {
    const size_t n = count_code_points(passages[i]);
    EXPECT_LE(n, kPassageMax) << i;
    if (i + 1 < passages.size()) {
      EXPECT_GE(n, kPassageMin / 2) << i;
    }
    EXPECT_TRUE(is_valid_utf8(passages[i])) << i;
    words += count_occurrences(passages[i], "word ") + count_occurrences(passages[i], "word\n");
  }
  EXPECT_GE(words, 40u * 29);
  EXPECT_EQ(passages[0].rfind("Paragraph 0 ", 0), 0u);
  // Cut at a sentence end (。) in the long Japanese paragraph.
  EXPECT_EQ(passages.back().substr(passages.back().size() - 3), "。");
  EXPECT_EQ(split_passages("short\n\n\n  \n").size(), 1u);
  EXPECT_TRUE(split_passages(" \n\n ").empty());
}

TEST(LocalIndexText, QueryTermsAreQuotedAndClassified) {
  QueryTerms t = parse_query("東京 人口");
  EXPECT_TRUE(t.match.empty());
  EXPECT_EQ(t.like, (std::vector<std::string>{"東京", "人口"}));
  t = parse_query("say \"NEAR\" AND( tokyo tokyo TOKYO a");
  EXPECT_EQ(t.match, (std::vector<std::string>{"\"say\"", "\"NEAR\"", "\"AND\"", "\"tokyo\""}));
  EXPECT_TRUE(t.like.empty());
  EXPECT_EQ(match_expression(t), "\"say\" OR \"NEAR\" OR \"AND\" OR \"tokyo\"");
  t = parse_query("東京の人口");
  EXPECT_EQ(t.match, (std::vector<std::string>{"\"東京の人口\"", "\"東京の\"", "\"京の人\"", "\"の人口\""}));
  t = parse_query("C++ node.js. AI -x- C#");
  EXPECT_EQ(t.match, (std::vector<std::string>{"\"C++\"", "\"node.js\""}));
  EXPECT_EQ(t.like, (std::vector<std::string>{"AI", "C#"}));
  EXPECT_TRUE(parse_query("\" * ( ) 。、").empty());
  EXPECT_EQ(like_pattern("a%_\\"), "%a\\%\\_\\\\%");
}

TEST(LocalIndexText, SnippetsCenterOnTheTerm) {
  const std::string passage = repeat("filler text here ", 60) + "the answer is 42 " + repeat("more filler ", 60);
  const std::string s = make_snippet(passage, {"answer"});
  EXPECT_NE(s.find("the answer is 42"), std::string::npos);
  EXPECT_LE(count_code_points(s), 302u);
  EXPECT_EQ(s.rfind("…", 0), 0u);
  EXPECT_EQ(make_snippet("short\n\n  text", {"x"}), "short text");
}

}  // namespace
}  // namespace nagare
