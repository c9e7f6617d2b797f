// HTML to Markdown: golden pages (tests/unit/pipeline/html/NAME.html -> NAME.md, rewritten by
// NAGARE_UPDATE_GOLDENS=1 and then read by a person before they are committed), the properties
// that matter checked directly on them, and the rules one at a time on small pages.
#include <gtest/gtest.h>
#include <iconv.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/charset.h"
#include "pipeline/html_boilerplate.h"
#include "pipeline/html_prefilter.h"
#include "pipeline/html_to_markdown.h"
#include "pipeline/url_resolve.h"
#include "util/utf8.h"

namespace nagare {
namespace {

const std::string kDir = std::string(NAGARE_SOURCE_DIR) + "/tests/unit/pipeline/html/";
const std::string kBase = "https://www.example.com/docs/guide/page.html";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Golden {
  const char* name;
  const char* base_url;
};

const Golden kGoldens[] = {
    {"news_en", "https://www.riverside-gazette.example/news/2024/03/bike-lanes.html"},
    {"news_ja", "https://www.minato-shimbun.example/national/20240319/sakura.html"},
    {"table_lists_code", "https://docs.widget.example/guide/config.html"},
    {"no_main_boilerplate", "https://bakery.example/faq/sourdough"},
    {"all_script", "https://app.example/"},
    {"relative_links", "https://www.example.com/docs/guide/page.html"},
};

MarkdownPage convert_golden(const std::string& name) {
  for (const Golden& g : kGoldens)
    if (name == g.name) return html_to_markdown(read_file(kDir + name + ".html"), g.base_url);
  ADD_FAILURE() << "no golden " << name;
  return {};
}

std::string md(std::string_view html) { return html_to_markdown(html, kBase).markdown; }

// Output every page must have: one final newline, no trailing spaces, no runs of blank lines.
void expect_clean(const std::string& markdown, const std::string& what) {
  if (markdown.empty()) return;
  EXPECT_EQ(markdown.back(), '\n') << what;
  EXPECT_FALSE(markdown.ends_with("\n\n")) << what;
  EXPECT_FALSE(markdown.starts_with("\n")) << what;
  EXPECT_EQ(markdown.find("\n\n\n"), std::string::npos) << what;
  EXPECT_EQ(markdown.find(" \n"), std::string::npos) << what;
  EXPECT_EQ(markdown.find("\t\n"), std::string::npos) << what;
  EXPECT_TRUE(is_valid_utf8(markdown)) << what;
}

TEST(HtmlToMarkdownGolden, MatchesGoldens) {
  const bool update = std::getenv("NAGARE_UPDATE_GOLDENS") && std::string(std::getenv("NAGARE_UPDATE_GOLDENS")) == "1";
  for (const Golden& g : kGoldens) {
    const std::string path = kDir + g.name + ".md";
    const MarkdownPage page = convert_golden(g.name);
    if (update) {
      std::ofstream(path, std::ios::binary) << page.markdown;
      continue;
    }
    EXPECT_EQ(page.markdown, read_file(path)) << g.name << ": rerun with NAGARE_UPDATE_GOLDENS=1 and read the diff";
    expect_clean(page.markdown, g.name);
    // Every piece of furniture in the pages says *_TEXT; none of it may come through.
    EXPECT_EQ(page.markdown.find("_TEXT"), std::string::npos) << g.name << ":\n" << page.markdown;
  }
}

TEST(HtmlToMarkdownGolden, EnglishNewsArticle) {
  const MarkdownPage p = convert_golden("news_en");
  EXPECT_EQ(p.title, "City Council Approves New Bike Lanes | The Riverside Gazette");
  EXPECT_EQ(p.language, "en-US");
  const std::string& m = p.markdown;
  EXPECT_NE(m.find("# City Council Approves New Bike Lanes on Main Street\n"), std::string::npos);
  EXPECT_NE(m.find("voted **7–2** on Wednesday"), std::string::npos);
  EXPECT_NE(m.find("begin in *June* and"), std::string::npos);
  EXPECT_NE(m.find("## What changes for drivers\n"), std::string::npos);
  EXPECT_NE(m.find("\n> We heard from hundreds of residents"), std::string::npos);
  EXPECT_NE(m.find("[full plan (PDF)](https://www.riverside-gazette.example/documents/main-street-plan.pdf)"),
            std::string::npos);
  EXPECT_NE(m.find("By [Jane Doe](https://www.riverside-gazette.example/staff/jane-doe)"), std::string::npos);
  for (const char* furniture : {"cookie", "Accept all", "Skip to content", "Sports", "Most read", "Related",
                                "Parking rates", "Share on", "Subscribe", "morning briefing", "Comments",
                                "analyticsQueue", "font-family", "Privacy"})
    EXPECT_EQ(m.find(furniture), std::string::npos) << furniture;
}

TEST(HtmlToMarkdownGolden, JapaneseNewsArticle) {
  const MarkdownPage p = convert_golden("news_ja");
  EXPECT_EQ(p.title, "桜の開花、平年より5日早く　気象台が発表 - みなと新聞");
  EXPECT_EQ(p.language, "ja");
  const std::string& m = p.markdown;
  EXPECT_TRUE(m.starts_with("# 桜の開花、平年より5日早く　気象台が発表\n")) << m;
  EXPECT_NE(m.find("| 都市 | 開花日 | 平年差 |\n| --- | --- | --- |\n| 東京 | 3月14日 | 10日早い |\n"), std::string::npos);
  EXPECT_NE(m.find("市内の標本木で桜（ソメイヨシノ）が開花"), std::string::npos);  // the ruby reading is gone
  EXPECT_NE(m.find("「３月に入って気温の高い日が続いたことが影響した。＊週末は"), std::string::npos);
  EXPECT_NE(m.find("- 開花：標本木で5～6輪以上の花が咲いた状態\n"), std::string::npos);
  for (const char* furniture : {"クッキー", "社会", "ポスト", "シェア", "アクセスランキング", "Copyright"})
    EXPECT_EQ(m.find(furniture), std::string::npos) << furniture;
}

// The same page in Shift_JIS, as a Japanese site serves it: charset detection and conversion
// give back the UTF-8 page's Markdown.
TEST(HtmlToMarkdownGolden, JapaneseNewsArticleInShiftJis) {
  std::string html = read_file(kDir + "news_ja.html");
  const std::string meta = "<meta charset=\"utf-8\">";
  ASSERT_NE(html.find(meta), std::string::npos);
  html.replace(html.find(meta), meta.size(), "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">");
  iconv_t cd = iconv_open("CP932", "UTF-8");
  ASSERT_NE(cd, reinterpret_cast<iconv_t>(-1));
  std::string sjis(html.size() * 2, '\0');
  char* in = html.data();
  size_t in_left = html.size();
  char* out = sjis.data();
  size_t out_left = sjis.size();
  ASSERT_NE(iconv(cd, &in, &in_left, &out, &out_left), size_t(-1));
  iconv_close(cd);
  sjis.resize(sjis.size() - out_left);
  ASSERT_EQ(sjis.find("開花"), std::string::npos);  // really not UTF-8 any more

  const std::string charset = detect_charset("text/html", sjis);
  EXPECT_EQ(charset, "shift_jis");
  const MarkdownPage p = html_to_markdown(to_utf8(sjis, charset), kGoldens[1].base_url);
  EXPECT_EQ(p.markdown, read_file(kDir + "news_ja.md"));
  EXPECT_EQ(p.title, "桜の開花、平年より5日早く　気象台が発表 - みなと新聞");
}

TEST(HtmlToMarkdownGolden, TablesListsAndCode) {
  const std::string m = convert_golden("table_lists_code").markdown;
  EXPECT_NE(m.find("| Option | Default | Meaning |\n| --- | --- | --- |\n| `--port` | 8080 | The TCP port to listen on. |\n"),
            std::string::npos);
  EXPECT_NE(m.find("| `--mode` | `fast\\|safe` | How to trade speed for safety; *safe* is slower. |"), std::string::npos);
  EXPECT_NE(m.find("| `--log` | (none) | A file for the log. Rotated daily. |"), std::string::npos);  // cells stay one line
  EXPECT_NE(m.find("| Deprecated options |  | See [the old list](https://docs.widget.example/docs/old-options). |"),
            std::string::npos);  // colspan
  EXPECT_NE(m.find("1. Download the archive.\n2. Unpack it:\n   - on Linux with `tar`,\n"
                   "   - on Windows with the built-in extractor.\n     1. Right-click the file.\n"
                   "     2. Choose **Extract All**.\n3. Run the installer.\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("```python\nimport widget\n\ndef main():\n    server = widget.Server(port=8080)  # *not* markdown\n"),
            std::string::npos);
  EXPECT_NE(m.find("````\necho ```three backticks```\n  indented line\n````\n"), std::string::npos);
  EXPECT_NE(m.find("Options marked with \\* are required"), std::string::npos);
  EXPECT_NE(m.find("`/etc/widgetd/*.conf`"), std::string::npos);  // code is not escaped
  EXPECT_NE(m.find("2024\\. A line that starts with a year and a period.\n\\# Not a heading\n\\- Not a list item\n"
                   "\\+ Neither is this\n\\> Nor a quote\n"),
            std::string::npos);
  EXPECT_NE(m.find("Snake_case_names stay, but \\_leading underscores\\_ and \\[brackets\\] are escaped"),
            std::string::npos);
  EXPECT_NE(m.find("\n---\n"), std::string::npos);
  EXPECT_NE(m.find("Layout\n\nOne column tables are read as text.\n"), std::string::npos);
}

TEST(HtmlToMarkdownGolden, PageWithoutMainLosesItsFurniture) {
  const MarkdownPage p = convert_golden("no_main_boilerplate");
  EXPECT_EQ(p.title, "Sourdough Starter FAQ");
  EXPECT_TRUE(p.markdown.starts_with("## Sourdough Starter FAQ\n\n**How often should I feed my starter?**\nOnce a day"))
      << p.markdown;
  EXPECT_NE(p.markdown.find("Yes. Whole wheat flour ferments faster"), std::string::npos);
  EXPECT_NE(p.markdown.find("The canvas wrapper is content, not a canvas."), std::string::npos);
  for (const char* furniture : {"Call us", "Baking since", "Recipes", "Shop", "privacy", "flour prices", "Follow us",
                                "Popular", "Focaccia", "Contact", "Join"})
    EXPECT_EQ(p.markdown.find(furniture), std::string::npos) << furniture;
}

TEST(HtmlToMarkdownGolden, ScriptOnlyPageIsEmpty) {
  const MarkdownPage p = convert_golden("all_script");
  EXPECT_EQ(p.markdown, "");
  EXPECT_EQ(p.title, "Loading…");
}

TEST(HtmlToMarkdownGolden, LinksAreAbsolute) {
  const std::string m = convert_golden("relative_links").markdown;
  for (const char* link : {
           "- [a sibling page](https://www.example.com/docs/guide/sibling.html)\n",
           "- [one level up, with a query](https://www.example.com/docs/up/one.html?x=1&y=2)\n",
           "- [a root-relative path](https://www.example.com/root/path)\n",
           "- [a scheme-relative link](https://cdn.example.org/lib.js)\n",
           "- [only a query](https://www.example.com/docs/guide/page.html?page=2)\n",
           "- [an absolute link with dot segments](https://other.example/a/c)\n",
           "- [a name with spaces and parentheses](https://www.example.com/docs/guide/spaced%20name%20%28draft%29.html)\n",
           "- a fragment on this page\n",
           "- a script link\n",
           "- an empty link\n",
           "- a link without href\n",
           "- [the editor](mailto:editor@example.com)\n",
           "- image-only link above\n",
           "- Wow\\![a link after an exclamation mark](https://www.example.com/exclaim)\n",
           "- ### A card\n  Links around blocks keep their text.\n",
       })
    EXPECT_NE(m.find(link), std::string::npos) << link << "\nin:\n" << m;
}

TEST(HtmlToMarkdown, CollapsesWhitespaceAsABrowser) {
  EXPECT_EQ(md("<p>  one \n\t two   three </p>"), "one two three\n");
  EXPECT_EQ(md("<p>a<span> b </span>c</p>"), "a b c\n");
  EXPECT_EQ(md("<p>no&nbsp;&nbsp;break</p>"), "no break\n");
  EXPECT_EQ(md("<p>line one<br>  line two<br><br>new paragraph</p>"), "line one\nline two\n\nnew paragraph\n");
  EXPECT_EQ(md("<div>a</div>  <div>b</div>text<p>c</p>"), "a\n\nb\n\ntext\n\nc\n");
  EXPECT_EQ(md(""), "");
  EXPECT_EQ(md("<p> \n </p><div></div>"), "");
}

TEST(HtmlToMarkdown, Headings) {
  EXPECT_EQ(md("<h1>One</h1><h2>Two</h2><h3>Three</h3><h4>Four</h4><h5>Five</h5><h6>Six</h6>"),
            "# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six\n");
  EXPECT_EQ(md("<h2>Split<br>over <div>blocks</div></h2><p>after</p>"), "## Split over blocks\n\nafter\n");
  EXPECT_EQ(md("<h2>1. Introduction</h2>"), "## 1. Introduction\n");  // nothing to escape after "## "
}

TEST(HtmlToMarkdown, InlineStyles) {
  EXPECT_EQ(md("<p><b>bold</b> <strong>strong</strong> <i>it</i> <em>em</em> <del>gone</del></p>"),
            "**bold** **strong** *it* *em* ~~gone~~\n");
  EXPECT_EQ(md("<p><b>foo </b>bar</p>"), "**foo** bar\n");  // the space moves out of the markers
  EXPECT_EQ(md("<p>foo<b> bar</b></p>"), "foo **bar**\n");
  EXPECT_EQ(md("<p>a<b></b>b<i> </i>c</p>"), "ab c\n");  // empty styles vanish
  EXPECT_EQ(md("<p><b>x<b>y</b></b></p>"), "**xy**\n");
  EXPECT_EQ(md("<p><b>one<br>two</b></p>"), "**one**\n**two**\n");
  EXPECT_EQ(md("<p>Use <code>a  *b*  c</code> here</p>"), "Use `a *b* c` here\n");
  EXPECT_EQ(md("<p><code>has `tick`</code></p>"), "`` has `tick` ``\n");
}

TEST(HtmlToMarkdown, EscapesOnlyWhatWouldChangeMeaning) {
  EXPECT_EQ(md("<p>2*3 = 6, [note], `x`, a_b_c, _x_</p>"), "2\\*3 = 6, \\[note\\], \\`x\\`, a_b_c, \\_x\\_\n");
  EXPECT_EQ(md("<p># not a heading</p><p>#hashtag</p><p>- dash</p><p>-5 degrees</p><p>&gt; quote</p>"
               "<p>3. not a list</p><p>3.14 is pi</p><p>+ plus</p><p>---</p>"),
            "\\# not a heading\n\n#hashtag\n\n\\- dash\n\n-5 degrees\n\n\\> quote\n\n3\\. not a list\n\n3.14 is pi\n\n"
            "\\+ plus\n\n\\---\n");
  EXPECT_EQ(md("<p>日本語＊［全角］は　そのまま。</p>"), "日本語＊［全角］は　そのまま。\n");
  EXPECT_EQ(md("<p>C:\\path\\</p><p>a\\*b</p>"), "C:\\path\\\\\n\na\\\\\\*b\n");
}

TEST(HtmlToMarkdown, ListsAndQuotes) {
  EXPECT_EQ(md("<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul><p>after</p>"), "- a\n- b\n  - c\n\nafter\n");
  EXPECT_EQ(md("<ol start=\"9\"><li>nine</li><li>ten<ol><li>one</li></ol></li></ol>"),
            "9. nine\n10. ten\n    1. one\n");
  EXPECT_EQ(md("<blockquote><p>a</p><p>b</p><blockquote>c</blockquote></blockquote>"), "> a\n>\n> b\n>\n> > c\n");
  EXPECT_EQ(md("<ul><li></li><li><p>x</p></li></ul>"), "- x\n");
  EXPECT_EQ(md("<hr><p>x</p><hr>"), "---\n\nx\n\n---\n");
}

TEST(HtmlToMarkdown, Tables) {
  // No <th>: the first row is the header; short rows are padded; '|' in cells is escaped.
  EXPECT_EQ(md("<table><tr><td>a</td><td>b|c</td></tr><tr><td>1</td></tr></table>"),
            "| a | b\\|c |\n| --- | --- |\n| 1 |  |\n");
  EXPECT_EQ(md("<table><caption>Sizes</caption><tr><th>k</th><th>v</th></tr><tr><td><p>x</p><p>y</p></td><td>2</td></tr></table>"),
            "Sizes\n\n| k | v |\n| --- | --- |\n| x y | 2 |\n");
  // Tables that lay out a page are read as text.
  EXPECT_EQ(md("<table><tr><td>only</td></tr><tr><td>column</td></tr></table>"), "only\n\ncolumn\n");
  EXPECT_EQ(md("<table><tr><td><table><tr><td>in</td><td>ner</td></tr><tr><td>1</td><td>2</td></tr></table></td>"
               "<td>side</td></tr></table>"),
            "| in | ner |\n| --- | --- |\n| 1 | 2 |\n\nside\n");
}

TEST(HtmlToMarkdown, CodeBlocksKeepWhitespace) {
  EXPECT_EQ(md("<pre>\n  a\n\n    b  \n</pre>"), "```\n  a\n\n    b\n```\n");
  EXPECT_EQ(md("<pre><code class=\"lang-js\">x = 1;<br>y = 2;</code></pre>"), "```js\nx = 1;\ny = 2;\n```\n");
  EXPECT_EQ(md("<ul><li>step<pre>make\nmake install</pre></li></ul>"), "- step\n  ```\n  make\n  make install\n  ```\n");
}

TEST(HtmlToMarkdown, Images) {
  EXPECT_EQ(md("<p>a<img src=x.png alt=\"A big chart\">b</p>"), "ab\n");  // images are dropped
  EXPECT_EQ(md("<figure><img src=x.png alt=\"Sales by month, 2023\"></figure>"), "Image: Sales by month, 2023\n");
  EXPECT_EQ(md("<figure><img src=x.png alt=\"chart\"><figcaption>The caption</figcaption></figure>"), "The caption\n");
  EXPECT_EQ(md("<figure><img src=x.png alt=\"IMG_2041.JPG\"></figure><figure><img alt=\"logo\"></figure>"), "");
}

TEST(HtmlToMarkdown, DropsWhatNeverShows) {
  EXPECT_EQ(md("<p>a</p><script>b</script><style>c</style><noscript>d</noscript><template>e</template>"
               "<svg><text>f</text></svg><iframe>g</iframe><form><div>h</div></form><button>i</button><select><option>j</select>"
               "<textarea>k</textarea><canvas>l</canvas><object>m</object><dialog>n</dialog><p>z</p>"),
            "a\n\nz\n");
  EXPECT_EQ(md("<p>a</p><div hidden>b</div><div aria-hidden=\"true\">c</div><div style=\"color: red; DISPLAY : none\">d</div>"
               "<div style=\"visibility:hidden\">e</div><div role=\"navigation\">f</div><div role=\"banner\">g</div>"
               "<div role=\"contentinfo\">h</div><div role=\"complementary\">i</div><div role=\"search\">j</div>"
               "<div role=\"alertdialog\">k</div><div aria-hidden=\"false\">y</div><p>z</p>"),
            "a\n\ny\n\nz\n");
  EXPECT_EQ(md("<nav>a</nav><header>b</header><aside>c</aside><p>d</p><footer>e</footer>"), "d\n");
}

TEST(HtmlToMarkdown, ClassAndIdRulesMatchWholeWords) {
  EXPECT_EQ(md("<div class=\"main-nav\">a</div><div class=\"canvas-wrapper\">b</div><div class=\"navy-theme\">c</div>"
               "<div id=\"cookieBanner\">d</div><div class=\"shadow\">e</div><div class=\"ad-slot\">f</div>"
               "<div class=\"address\">g</div><div class=\"share-tools\">h</div><div class=\"shared-notes\">i</div>"
               "<div id=\"breadcrumbs\">j</div><div class=\"overflow-hidden\">k</div><div class=\"comments\">l</div>"
               "<div class=\"SiteHeader\">m</div><div class=\"newsletterSignup\">n</div>"),
            "b\n\nc\n\ne\n\ng\n\ni\n\nk\n");
  EXPECT_EQ(class_tokens("main-nav cookieBanner  ad_slot2 URLBox"),
            (std::vector<std::string>{"main", "nav", "cookie", "banner", "ad", "slot2", "urlbox"}));
}

TEST(HtmlToMarkdown, HeadersAndFootersOfTheContentStay) {
  EXPECT_EQ(md("<header><a href=/>Site</a></header><article><header><h1>Title</h1><p>By A. Writer</p></header>"
               "<p>Body.</p><footer>Filed under news</footer></article><footer>Site footer</footer>"),
            "# Title\n\nBy A. Writer\n\nBody.\n\nFiled under news\n");
  // A page header with the page's only <h1> keeps the heading, not the rest.
  EXPECT_EQ(md("<header><h1>Post title</h1><ul><li>menu</li></ul></header><p>Body.</p>"), "# Post title\n\nBody.\n");
  // A wrapper whose name says "sidebar" does not take the headline and the text with it.
  EXPECT_EQ(md("<div class=\"layout has-sidebar\"><h1>Title</h1><p>Body.</p><div class=\"sidebar\">side</div></div>"),
            "# Title\n\nBody.\n");
  // Nor does an ASP.NET page's <form> around everything.
  EXPECT_EQ(md("<form id=\"aspnetForm\"><div><h1>T</h1><p>Body.</p><input type=submit></div></form>"), "# T\n\nBody.\n");
}

TEST(HtmlToMarkdown, ChoosesTheMainContent) {
  EXPECT_EQ(md("<p>outside</p><main><p>inside</p></main><p>after</p>"), "inside\n");
  EXPECT_EQ(md("<p>outside</p><div role=\"main\"><p>inside</p></div>"), "inside\n");
  EXPECT_EQ(md("<p>outside</p><article><p>the article</p></article>"), "the article\n");
  EXPECT_EQ(md("<p>intro</p><article><p>one</p></article><article><p>two</p></article>"), "intro\n\none\n\ntwo\n");
  // Cards in a "related" box are not a second article.
  EXPECT_EQ(md("<p>x</p><article><p>story</p></article><div class=\"related\"><article>card</article></div>"), "story\n");
  // An empty <main> (an app shell) falls back to the body.
  EXPECT_EQ(md("<main></main><p>server-rendered text</p>"), "server-rendered text\n");
}

TEST(HtmlToMarkdown, TitleLanguageAndBase) {
  MarkdownPage p =
      html_to_markdown("<html lang=\" de \"><head><title>\n A  title </title></head><body><h1>H</h1></body></html>", kBase);
  EXPECT_EQ(p.title, "A title");
  EXPECT_EQ(p.language, "de");
  p = html_to_markdown("<body><svg><title>icon</title></svg><h1> The <b>headline</b> </h1></body>", kBase);
  EXPECT_EQ(p.title, "The headline");
  EXPECT_EQ(p.language, "");
  p = html_to_markdown("<head><base href=\"https://cdn.example.net/base/\"></head><body><a href=\"x.html\">x</a></body>",
                       kBase);
  EXPECT_EQ(p.markdown, "[x](https://cdn.example.net/base/x.html)\n");
}

TEST(HtmlToMarkdown, SurvivesHostileInput) {
  // 100,000 nested elements: no stack overflow, and the text is still there.
  for (const char* tag : {"div", "b", "span", "table", "blockquote", "ul"}) {
    std::string html;
    for (int i = 0; i < 100000; ++i) html += std::string("<") + tag + ">";
    html += "deep text";
    const std::string m = md(html);
    EXPECT_NE(m.find("deep text"), std::string::npos) << tag;
    expect_clean(m, tag);
  }
  std::string cards;
  for (int i = 0; i < 20000; ++i) cards += "<div><table><tr><td><ul><li><blockquote><a href=x><b><i>";
  EXPECT_NE(md(cards + "z").find('z'), std::string::npos);
  // Invalid UTF-8 and NUL bytes come out as U+FFFD, never as broken UTF-8.
  const char raw[] = "<p>a\xFF\xC3(\xE2\x82 b\0c</p><p>\xF0\x9F\x98</p>";
  const std::string bad(raw, sizeof raw - 1);
  const std::string m = md(bad);
  EXPECT_TRUE(is_valid_utf8(m)) << m;
  EXPECT_NE(m.find("\xEF\xBF\xBD"), std::string::npos);
  expect_clean(m, "invalid utf-8");
  // Unclosed everything.
  EXPECT_EQ(md("<p><b><i><a href='/x'>text"), "***[text](https://www.example.com/x)***\n");
  EXPECT_EQ(md("<table><tr><td>a<td>b<tr><td>c"), "| a | b |\n| --- | --- |\n| c |  |\n");
}

TEST(HtmlPrefilter, BoundsNestingAndCutsWhatNeverRenders) {
  EXPECT_EQ(prefilter_html("<div><p>a<!-- note --></div><script>if (a<b) x();</script><style>p{}</style>", 10),
            "<div><p>a</div><script></script><style></style>");
  EXPECT_EQ(prefilter_html("<svg viewBox='0 0 1 1'><path d='M0'/><svg><g/></svg></svg>after", 10),
            "<svg viewBox='0 0 1 1'></svg>after");
  EXPECT_EQ(prefilter_html("<div><div><div>x</div></div></div>", 2), "<div><div>x</div></div>");
  // Void elements, optional end tags and attributes with '>' in quotes do not count or confuse.
  EXPECT_EQ(prefilter_html("<div title='a>b'><br><p><li><img><div>x</div></div>", 2),
            "<div title='a>b'><br><p><li><img><div>x</div></div>");
  // An end tag closes what was left open inside it (and the tag over the limit is gone).
  EXPECT_EQ(prefilter_html("<div><span><span></div><div><div>y</div></div>", 2), "<div><span></div><div><div>y</div></div>");
  const std::string page = "<html><head><title>t</title></head><body><p>Hello</p></body></html>";
  EXPECT_EQ(prefilter_html(page, 128), page);
}

TEST(ResolveHref, Rfc3986Examples) {
  // RFC 3986 section 5.4.
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},           {"g", "http://a/b/c/g"},        {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"},           {"//g", "http://g/"},
      {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"}, {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"}, {"", "http://a/b/c/d;p?q"},  {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},   {"..", "http://a/b/"},          {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},  {"../..", "http://a/"},         {"../../", "http://a/"},
      {"../../g", "http://a/g"}, {"../../../g", "http://a/g"},   {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},   {"g.", "http://a/b/c/g."},      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."}, {"..g", "http://a/b/c/..g"}, {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"}, {"g/./h", "http://a/b/c/g/h"}, {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
  };
  for (const auto& [ref, want] : cases) EXPECT_EQ(resolve_href(base, ref), want) << ref;
}

TEST(ResolveHref, AsABrowserReadsHrefs) {
  EXPECT_EQ(resolve_href("https://h.example/a/b", "  c\t\nd  "), "https://h.example/a/cd");
  EXPECT_EQ(resolve_href("https://h.example/a/b", "..\\x\\y"), "https://h.example/x/y");
  EXPECT_EQ(resolve_href("https://h.example", "x"), "https://h.example/x");
  EXPECT_EQ(resolve_href("HTTPS://h.example/a", "HTTP://Other.example"), "http://Other.example/");
  EXPECT_EQ(resolve_href("", "rel/x.html"), "rel/x.html");  // no base: left as written
  EXPECT_EQ(resolve_href("not a url", "/x"), "/x");
}

}  // namespace
}  // namespace nagare
