// A fetched page's text (src/pipeline/page_text.h): which content is read and how, and why the
// rest is skipped.
#include "pipeline/page_text.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace nagare {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

FetchedPage fetched(std::string content_type, std::string body, std::string header = "") {
  FetchedPage p;
  p.url = p.final_url = "https://example.com/doc";
  p.status = 200;
  p.content_type = std::move(content_type);
  p.charset_header = header.empty() ? p.content_type : header;
  p.body = std::move(body);
  return p;
}

// A one-page PDF whose page shows `text` in Helvetica, with a correct cross-reference table.
std::string tiny_pdf(const std::string& text) {
  const std::string stream = "BT /F1 24 Tf 72 700 Td (" + text + ") Tj ET\n";
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream + "endstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  };
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST(PageText, Sniffing) {
  EXPECT_EQ(sniff_media_type("%PDF-1.7\n..."), "application/pdf");
  EXPECT_EQ(sniff_media_type("\n  <!DOCTYPE html><HTML><body>x</body></HTML>"), "text/html");
  EXPECT_EQ(sniff_media_type("\xEF\xBB\xBF<p>para</p>"), "text/html");
  EXPECT_EQ(sniff_media_type("<?xml version=\"1.0\"?><feed></feed>"), "text/plain");
  EXPECT_EQ(sniff_media_type(std::string("GIF89a\0\0\x01", 9)), "application/octet-stream");
  EXPECT_EQ(sniff_media_type("just words"), "text/plain");
  EXPECT_EQ(sniff_media_type(""), "text/plain");
}

TEST(PageText, HtmlBecomesMarkdownWithTitle) {
  const PageText t = page_text(fetched("text/html", "<html><head><title>T</title></head><body><h1>Head</h1>"
                                                    "<p>Body text.</p></body></html>"));
  EXPECT_TRUE(t.skipped.empty()) << t.skipped;
  EXPECT_EQ(t.url, "https://example.com/doc");
  EXPECT_EQ(t.title, "T");
  EXPECT_TRUE(contains(t.markdown, "Body text.")) << t.markdown;
}

TEST(PageText, HtmlWithoutContentTypeIsSniffed) {
  for (const char* type : {"", "application/octet-stream"}) {
    const PageText t = page_text(fetched(type, "<html><body><p>Sniffed.</p></body></html>"));
    EXPECT_TRUE(contains(t.markdown, "Sniffed.")) << type << ": " << t.skipped;
  }
}

TEST(PageText, PlainTextAndMarkdownAsTheyAre) {
  const PageText plain = page_text(fetched("text/plain", "line one\nline two\n", "text/plain; charset=utf-8"));
  EXPECT_EQ(plain.markdown, "line one\nline two\n");
  EXPECT_TRUE(plain.title.empty());
  const PageText md = page_text(fetched("text/markdown", "intro\n# The Title\n\ntext\n"));
  EXPECT_EQ(md.title, "The Title");
  EXPECT_TRUE(contains(md.markdown, "# The Title"));
}

TEST(PageText, Pdf) {
  const PageText t = page_text(fetched("application/pdf", tiny_pdf("Hello from a PDF")));
  if (contains(t.skipped, "not installed")) GTEST_SKIP() << t.skipped;
  EXPECT_TRUE(t.skipped.empty()) << t.skipped;
  EXPECT_TRUE(contains(t.markdown, "Hello from a PDF")) << t.markdown;
  const PageText sniffed = page_text(fetched("application/octet-stream", tiny_pdf("Sniffed PDF")));
  EXPECT_TRUE(contains(sniffed.markdown, "Sniffed PDF")) << sniffed.skipped;
}

TEST(PageText, DamagedPdf) {
  const PageText t = page_text(fetched("application/pdf", "%PDF-1.4\nnot really"));
  if (contains(t.skipped, "not installed")) GTEST_SKIP() << t.skipped;
  EXPECT_TRUE(t.markdown.empty());
  EXPECT_TRUE(contains(t.skipped, "PDF")) << t.skipped;
}

TEST(PageText, SkipsOtherContentNamingTheType) {
  EXPECT_EQ(page_text(fetched("image/png", "\x89PNG")).skipped, "binary content (image/png)");
  EXPECT_EQ(page_text(fetched("application/zip", "PK")).skipped, "binary content (application/zip)");
  EXPECT_TRUE(contains(page_text(fetched("", std::string("ab\0cd", 5))).skipped, "binary content"));
  EXPECT_EQ(page_text(fetched("text/csv", "a,b\n")).skipped, "unsupported content type (text/csv)");
}

TEST(PageText, EmptyAndFailedPages) {
  EXPECT_EQ(page_text(fetched("text/plain", " \n\t\n")).skipped, "no text content");
  FetchedPage failed = fetched("", "");
  failed.error = "HTTP 404";
  EXPECT_EQ(page_text(failed).skipped, "not fetched: HTTP 404");
}

}  // namespace
}  // namespace nagare
