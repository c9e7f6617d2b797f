// Charset detection (BOM, Content-Type, XML declaration, <meta> prescan, UTF-8 check) and the
// conversion to UTF-8, on Japanese pages' encodings above all. The byte strings are "日本語"
// and friends as Python's cp932 / euc_jp / iso2022_jp codecs and glibc's EUC-JP-MS encode them.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "pipeline/charset.h"
#include "util/error.h"

namespace nagare {
namespace {

const std::string kNihongoSjis = "\x93\xFA\x96\x7B\x8C\xEA";
const std::string kNihongoEucJp = "\xC6\xFC\xCB\xDC\xB8\xEC";
const std::string kNihongoIso2022Jp = "\x1B$BF|K\\8l\x1B(B";
const std::string kFffd = "\xEF\xBF\xBD";

std::string page_with_head(const std::string& head, const std::string& text) {
  return "<!DOCTYPE html><html><head>" + head + "<title>t</title></head><body><p>" + text + "</p></body></html>";
}

TEST(DetectCharset, FromTheContentTypeHeader) {
  const std::string body = page_with_head("", kNihongoSjis);
  EXPECT_EQ(detect_charset("text/html; charset=Shift_JIS", body), "shift_jis");
  EXPECT_EQ(detect_charset("text/html;charset=\"EUC-JP\"", body), "euc-jp");
  EXPECT_EQ(detect_charset("text/html; CHARSET = 'windows-31j' ; foo=bar", body), "shift_jis");
  for (const char* label : {"sjis", "x-sjis", "ms_kanji", "csShiftJIS", "cp932", "MS932"})
    EXPECT_EQ(detect_charset(std::string("text/html; charset=") + label, body), "shift_jis") << label;
  EXPECT_EQ(detect_charset("text/html; charset=x-euc-jp", body), "euc-jp");
  EXPECT_EQ(detect_charset("text/html; charset=ISO-2022-JP", body), "iso-2022-jp");
  for (const char* label : {"latin1", "ISO-8859-1", "us-ascii", "iso_8859-1", "windows-1252", "cp1252"})
    EXPECT_EQ(detect_charset(std::string("text/html; charset=") + label, body), "windows-1252") << label;
  EXPECT_EQ(detect_charset("text/html; charset=UTF8", body), "utf-8");
  EXPECT_EQ(detect_charset("text/html; charset=koi8-r", body), "koi8-r");
}

TEST(DetectCharset, FromAMetaTag) {
  EXPECT_EQ(detect_charset("text/html", page_with_head("<meta charset=\"Shift_JIS\">", kNihongoSjis)), "shift_jis");
  EXPECT_EQ(detect_charset("", page_with_head("<META CHARSET=euc-jp>", kNihongoEucJp)), "euc-jp");
  EXPECT_EQ(detect_charset("text/html", page_with_head("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=x-sjis\">",
                                                       kNihongoSjis)),
            "shift_jis");
  // Attribute order does not matter; the content needs the http-equiv.
  EXPECT_EQ(detect_charset("", page_with_head("<meta content='text/html;charset=EUC-JP' http-equiv='content-type'/>",
                                              kNihongoEucJp)),
            "euc-jp");
  EXPECT_EQ(detect_charset("", page_with_head("<meta content=\"text/html; charset=euc-jp\">", "ascii")), "utf-8");
  // A page cannot be UTF-16 if it says so in ASCII.
  EXPECT_EQ(detect_charset("", page_with_head("<meta charset=\"utf-16\">", "x")), "utf-8");
  // Not a meta tag: in a comment, in another tag's attribute, past the first 4 KiB.
  EXPECT_EQ(detect_charset("", page_with_head("<!-- <meta charset=\"euc-jp\"> -->", "x")), "utf-8");
  EXPECT_EQ(detect_charset("", page_with_head("<div title='<meta charset=euc-jp>'></div>", "x")), "utf-8");
  EXPECT_EQ(detect_charset("", page_with_head(std::string(5000, ' ') + "<meta charset=\"euc-jp\">", "x")), "utf-8");
  // A label with a line break in it (found by html_markdown_fuzz: iconv took it for UTF-8 and
  // let invalid bytes through) is not a label.
  EXPECT_EQ(detect_charset("", page_with_head("<meta charset=\"utf-8\n<\">", "\xFF")), "windows-1252");
  // An unknown label is skipped: the next declaration counts.
  EXPECT_EQ(detect_charset("", page_with_head("<meta charset=\"x-no-such-charset\"><meta charset=\"euc-jp\">", "x")),
            "euc-jp");
}

TEST(DetectCharset, FromAnXmlDeclaration) {
  EXPECT_EQ(detect_charset("application/xhtml+xml", "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><html/>"), "shift_jis");
  EXPECT_EQ(detect_charset("", "<?xml version='1.0' encoding='EUC-JP'?>\n<rss>" + kNihongoEucJp + "</rss>"), "euc-jp");
}

TEST(DetectCharset, InOrderOfPrecedence) {
  const std::string meta_euc = page_with_head("<meta charset=\"euc-jp\">", kNihongoSjis);
  EXPECT_EQ(detect_charset("text/html; charset=shift_jis", meta_euc), "shift_jis");  // header before meta
  EXPECT_EQ(detect_charset("text/html; charset=bogus", meta_euc), "euc-jp");         // unknown header label
  EXPECT_EQ(detect_charset("text/html; charset=shift_jis", "\xEF\xBB\xBF<p>x</p>"), "utf-8");  // BOM first
  EXPECT_EQ(detect_charset("text/html; charset=shift_jis", "\xFF\xFE<\0p\0"), "utf-16le");
  EXPECT_EQ(detect_charset("", "\xFE\xFF\0<"), "utf-16be");
  EXPECT_EQ(detect_charset("", "<?xml version=\"1.0\" encoding=\"euc-jp\"?><meta charset=\"shift_jis\">"), "euc-jp");
}

TEST(DetectCharset, FallsBackOnTheBytes) {
  EXPECT_EQ(detect_charset("", "plain ascii"), "utf-8");
  EXPECT_EQ(detect_charset("text/html", page_with_head("", "日本語")), "utf-8");
  EXPECT_EQ(detect_charset("text/html", page_with_head("", "caf\xE9")), "windows-1252");
  EXPECT_EQ(detect_charset("", page_with_head("", kNihongoSjis)), "windows-1252");
  EXPECT_EQ(detect_charset("", ""), "utf-8");
}

TEST(ToUtf8, JapaneseEncodings) {
  EXPECT_EQ(to_utf8("a" + kNihongoSjis + "b", "shift_jis"), "a日本語b");
  EXPECT_EQ(to_utf8(kNihongoEucJp, "euc-jp"), "日本語");
  EXPECT_EQ(to_utf8(kNihongoIso2022Jp + " ok", "iso-2022-jp"), "日本語 ok");
  EXPECT_EQ(to_utf8(kNihongoSjis, "SHIFT_JIS"), "日本語");  // labels as pages write them
  EXPECT_EQ(to_utf8(kNihongoSjis, "Windows-31J"), "日本語");
  // Shift_JIS is read as CP932: NEC and IBM extensions, and 0x8160 as U+FF5E as browsers show it.
  EXPECT_EQ(to_utf8("\x87\x40\xEE\xE0\x81\x60", "shift_jis"), "①髙～");
  EXPECT_EQ(to_utf8("\xB6\xC0\xB6\xC5", "shift_jis"), "ｶﾀｶﾅ");
  // EUC-JP as EUC-JP-MS: the same extensions.
  EXPECT_EQ(to_utf8("\xAD\xA1\x8F\xF4\xFB\xA1\xC1", "euc-jp"), "①髙～");
}

TEST(ToUtf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(to_utf8("a" + kNihongoSjis.substr(0, 2) + "\xFF" "b", "shift_jis"), "a日" + kFffd + "b");
  EXPECT_EQ(to_utf8(kNihongoSjis + "\x93", "shift_jis"), "日本語" + kFffd);  // cut off at the end
  EXPECT_EQ(to_utf8("\xC6\xFC\xFF\xFF", "euc-jp"), "日" + kFffd + kFffd);
  EXPECT_EQ(to_utf8("\x1B$BF|\x1B(B\x80", "iso-2022-jp").substr(0, 3), "日");
  // UTF-8, as the WHATWG decoder does it: one U+FFFD per maximal invalid subpart.
  EXPECT_EQ(to_utf8("a\xC3(b", "utf-8"), "a" + kFffd + "(b");
  EXPECT_EQ(to_utf8("x\xE2\x82", "utf-8"), "x" + kFffd);
  EXPECT_EQ(to_utf8("\xF0\x9F\x98!", "utf-8"), kFffd + "!");
  EXPECT_EQ(to_utf8("\xC0\xAF", "utf-8"), kFffd + kFffd);             // overlong
  EXPECT_EQ(to_utf8("\xED\xA0\x80", "utf-8"), kFffd + kFffd + kFffd);  // a surrogate
  EXPECT_EQ(to_utf8("\xF4\x90\x80\x80", "utf-8"), kFffd + kFffd + kFffd + kFffd);  // past U+10FFFF
  EXPECT_EQ(to_utf8("ok 日本語 \xF0\x9F\x98\x80", "utf-8"), "ok 日本語 \xF0\x9F\x98\x80");
  const std::string nul("a\0b", 3);
  EXPECT_EQ(to_utf8(nul, "utf-8"), nul);
}

TEST(ToUtf8, Windows1252AndLatin1) {
  EXPECT_EQ(to_utf8("caf\xE9 \x80 \x93quoted\x94", "windows-1252"), "café € “quoted”");
  EXPECT_EQ(to_utf8("\xE9", "iso-8859-1"), "é");  // read as windows-1252, as browsers do
  EXPECT_EQ(to_utf8("\x81", "windows-1252"), "\xC2\x81");
  EXPECT_EQ(to_utf8("\xC1\xC2", "koi8-r"), "аб");
}

TEST(ToUtf8, StripsTheByteOrderMark) {
  EXPECT_EQ(to_utf8("\xEF\xBB\xBFhello", "utf-8"), "hello");
  EXPECT_EQ(to_utf8(std::string("\xFF\xFEh\0i\0", 6), "utf-16le"), "hi");
  EXPECT_EQ(to_utf8(std::string("\xFE\xFF\0h\0i", 6), "utf-16be"), "hi");
  EXPECT_EQ(to_utf8("", "utf-8"), "");
  EXPECT_EQ(to_utf8("", "shift_jis"), "");
}

TEST(ToUtf8, UnknownCharsetThrows) {
  EXPECT_THROW(to_utf8("x", "x-no-such-charset"), Error);
  EXPECT_THROW(to_utf8("x", "utf-8//IGNORE"), Error);  // not a way to pass iconv options
  EXPECT_THROW(to_utf8("x", ""), Error);
  try {
    to_utf8("x", "x-no-such-charset");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x-no-such-charset"), std::string::npos);
  }
}

// UTF-8 by RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF.
bool strictly_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) n = 1, cp = b;
    else if (b >= 0xC2 && b <= 0xDF) n = 2, cp = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF) n = 3, cp = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4) n = 4, cp = b & 0x07;
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

TEST(ToUtf8, OutputIsAlwaysValidUtf8) {
  // Some of iconv's decoders let invalid sequences through (its UCS-4 writes values past
  // U+10FFFF as 6-byte sequences); to_utf8 checks their output again.
  const std::string bytes = "a\xED\xA0\x80\xC0\xAF\xFF\xFE\x81+2D3YAA-";
  for (const char* label : {"ucs-4", "iso-10646", "utf-8", "utf-7", "utf-32le", "utf-16le", "utf-16be", "shift_jis", "euc-jp",
                            "iso-2022-jp", "big5", "euc-kr", "gb18030"})
    EXPECT_TRUE(strictly_valid_utf8(to_utf8(bytes, label))) << label;
}

TEST(ToUtf8, DetectedCharsetsAlwaysConvert) {
  // Whatever detect_charset returns, to_utf8 takes without throwing.
  for (const char* label : {"utf-8", "shift_jis", "euc-jp", "iso-2022-jp", "windows-1252", "utf-16le", "utf-16be",
                            "gbk", "gb18030", "big5", "euc-kr", "koi8-r", "koi8-u", "ibm866", "macintosh",
                            "windows-874", "windows-1250", "windows-1251", "windows-1254", "windows-1258",
                            "iso-8859-2", "iso-8859-15"}) {
    const std::string name = detect_charset(std::string("text/html; charset=") + label, "x");
    EXPECT_EQ(name, label);
    EXPECT_NO_THROW(to_utf8("abc\x80\xFF", name)) << label;
  }
}

}  // namespace
}  // namespace nagare
