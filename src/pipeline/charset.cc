#include "pipeline/charset.h"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

#include "util/ascii.h"
#include "util/error.h"
#include "util/utf8.h"

namespace nagare {
namespace {

constexpr size_t kPrescanBytes = 4096;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// An iconv descriptor that closes itself; invalid when iconv does not know the charset.
class Iconv {
 public:
  explicit Iconv(const char* from) : cd_(iconv_open("UTF-8", from)) {}
  ~Iconv() {
    if (valid()) iconv_close(cd_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool valid() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

struct Alias {
  std::string_view label;
  std::string_view name;
};

// WHATWG's labels for the encodings pages declare most (the Encoding Standard's table, in part).
constexpr Alias kAliases[] = {
    {"utf-8", "utf-8"}, {"utf8", "utf-8"}, {"unicode-1-1-utf-8", "utf-8"}, {"x-unicode20utf8", "utf-8"},
    {"shift_jis", "shift_jis"}, {"shift-jis", "shift_jis"}, {"sjis", "shift_jis"}, {"x-sjis", "shift_jis"},
    {"ms_kanji", "shift_jis"}, {"ms932", "shift_jis"}, {"windows-31j", "shift_jis"}, {"csshiftjis", "shift_jis"},
    {"cp932", "shift_jis"}, {"x-ms-cp932", "shift_jis"},
    {"euc-jp", "euc-jp"}, {"x-euc-jp", "euc-jp"}, {"eucjp", "euc-jp"}, {"cseucpkdfmtjapanese", "euc-jp"},
    {"iso-2022-jp", "iso-2022-jp"}, {"csiso2022jp", "iso-2022-jp"},
    {"windows-1252", "windows-1252"}, {"cp1252", "windows-1252"}, {"x-cp1252", "windows-1252"},
    {"iso-8859-1", "windows-1252"}, {"iso8859-1", "windows-1252"}, {"iso_8859-1", "windows-1252"},
    {"iso88591", "windows-1252"}, {"latin1", "windows-1252"}, {"l1", "windows-1252"},
    {"us-ascii", "windows-1252"}, {"ascii", "windows-1252"}, {"ansi_x3.4-1968", "windows-1252"},
    {"cp819", "windows-1252"}, {"ibm819", "windows-1252"}, {"iso-ir-100", "windows-1252"},
    {"csisolatin1", "windows-1252"}, {"iso_8859-1:1987", "windows-1252"},
    {"utf-16", "utf-16le"}, {"utf-16le", "utf-16le"}, {"unicode", "utf-16le"}, {"ucs-2", "utf-16le"},
    {"csunicode", "utf-16le"}, {"iso-10646-ucs-2", "utf-16le"}, {"unicodefeff", "utf-16le"},
    {"utf-16be", "utf-16be"}, {"unicodefffe", "utf-16be"},
    {"gbk", "gbk"}, {"gb2312", "gbk"}, {"x-gbk", "gbk"}, {"chinese", "gbk"}, {"csgb2312", "gbk"},
    {"gb_2312-80", "gbk"}, {"gb_2312", "gbk"}, {"iso-ir-58", "gbk"}, {"gb18030", "gb18030"},
    {"big5", "big5"}, {"big5-hkscs", "big5"}, {"cn-big5", "big5"}, {"csbig5", "big5"}, {"x-x-big5", "big5"},
    {"euc-kr", "euc-kr"}, {"ks_c_5601-1987", "euc-kr"}, {"ks_c_5601-1989", "euc-kr"}, {"ksc5601", "euc-kr"},
    {"ksc_5601", "euc-kr"}, {"windows-949", "euc-kr"}, {"cseuckr", "euc-kr"}, {"korean", "euc-kr"},
    {"koi8-r", "koi8-r"}, {"koi8r", "koi8-r"}, {"koi8", "koi8-r"}, {"koi", "koi8-r"}, {"cskoi8r", "koi8-r"},
    {"koi8-u", "koi8-u"}, {"koi8-ru", "koi8-u"},
    {"ibm866", "ibm866"}, {"cp866", "ibm866"}, {"866", "ibm866"}, {"csibm866", "ibm866"},
    {"macintosh", "macintosh"}, {"mac", "macintosh"}, {"x-mac-roman", "macintosh"}, {"csmacintosh", "macintosh"},
    {"windows-874", "windows-874"}, {"tis-620", "windows-874"}, {"iso-8859-11", "windows-874"},
    {"iso-8859-9", "windows-1254"}, {"latin5", "windows-1254"},
};

// The WHATWG name for `label`, the label itself when only iconv knows it, or "" when nobody does.
std::string canonical_charset(std::string_view label) {
  std::string l = lower(trim(label));
  // Only what a charset name is made of: iconv would read "utf-8//IGNORE" as options.
  if (l.empty() || l.size() > 40 || l.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.:") != std::string::npos)
    return "";
  for (const Alias& a : kAliases)
    if (a.label == l) return std::string(a.name);
  // windows-1250 ... windows-1258 and iso-8859-N under their other spellings.
  for (std::string_view prefix : {"cp125", "x-cp125"})
    if (l.starts_with(prefix) && l.size() == prefix.size() + 1) return "windows-125" + l.substr(prefix.size());
  for (std::string_view prefix : {"iso8859-", "iso_8859-", "iso8859_"})
    if (l.starts_with(prefix)) l = "iso-8859-" + l.substr(prefix.size());
  if (Iconv(l.c_str()).valid()) return l;
  return "";
}

// The label after "charset" in a Content-Type value or a <meta content>, or "".
std::string charset_parameter(std::string_view s) {
  const std::string l = lower(s);
  size_t at = 0;
  while ((at = l.find("charset", at)) != std::string::npos) {
    size_t k = at + 7;
    while (k < s.size() && is_space(s[k])) ++k;
    if (k >= s.size() || s[k] != '=') {
      at += 7;
      continue;
    }
    ++k;
    while (k < s.size() && is_space(s[k])) ++k;
    if (k < s.size() && (s[k] == '"' || s[k] == '\'')) {
      const size_t close = s.find(s[k], k + 1);
      return std::string(s.substr(k + 1, close == std::string_view::npos ? std::string_view::npos : close - k - 1));
    }
    const size_t end = s.find_first_of(" \t\n\r\f;,", k);
    return std::string(s.substr(k, end == std::string_view::npos ? std::string_view::npos : end - k));
  }
  return "";
}

std::string xml_declaration_encoding(std::string_view body) {
  if (!body.starts_with("<?xml")) return "";
  const size_t end = body.find("?>");
  if (end == std::string_view::npos || end > 1024) return "";
  const std::string_view decl = body.substr(0, end);
  const size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return "";
  size_t k = at + 8;
  while (k < decl.size() && is_space(decl[k])) ++k;
  if (k >= decl.size() || decl[k] != '=') return "";
  ++k;
  while (k < decl.size() && is_space(decl[k])) ++k;
  if (k >= decl.size() || (decl[k] != '"' && decl[k] != '\'')) return "";
  const size_t close = decl.find(decl[k], k + 1);
  if (close == std::string_view::npos) return "";
  return std::string(decl.substr(k + 1, close - k - 1));
}

// A tag's attributes from just after its name up to its '>' (or the end); `k` ends past '>'.
std::vector<std::pair<std::string, std::string>> read_attributes(std::string_view s, size_t& k) {
  std::vector<std::pair<std::string, std::string>> attrs;
  while (k < s.size()) {
    if (is_space(s[k]) || s[k] == '/') {
      ++k;
      continue;
    }
    if (s[k] == '>') {
      ++k;
      break;
    }
    const size_t name_begin = k++;
    while (k < s.size() && !is_space(s[k]) && s[k] != '/' && s[k] != '>' && s[k] != '=') ++k;
    std::string name = lower(s.substr(name_begin, k - name_begin));
    std::string value;
    size_t v = k;
    while (v < s.size() && is_space(s[v])) ++v;
    if (v < s.size() && s[v] == '=') {
      k = v + 1;
      while (k < s.size() && is_space(s[k])) ++k;
      if (k < s.size() && (s[k] == '"' || s[k] == '\'')) {
        const size_t close = s.find(s[k], k + 1);
        const size_t end = close == std::string_view::npos ? s.size() : close;
        value = std::string(s.substr(k + 1, end - k - 1));
        k = end == s.size() ? end : end + 1;
      } else {
        const size_t begin = k;
        while (k < s.size() && !is_space(s[k]) && s[k] != '>') ++k;
        value = std::string(s.substr(begin, k - begin));
      }
    }
    attrs.emplace_back(std::move(name), std::move(value));
  }
  return attrs;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The WHATWG prescan of the first bytes for a <meta> that names the charset, simplified.
std::string meta_charset(std::string_view head) {
  size_t i = 0;
  while ((i = head.find('<', i)) != std::string_view::npos) {
    const std::string_view rest = head.substr(i);
    if (rest.starts_with("<!--")) {
      const size_t end = head.find("-->", i + 4);
      if (end == std::string_view::npos) return "";
      i = end + 3;
      continue;
    }
    const std::string tag = lower(rest.substr(0, 6));
    if (tag.starts_with("<meta") && tag.size() == 6 && (is_space(tag[5]) || tag[5] == '/')) {
      size_t k = i + 5;
      bool pragma = false;
      std::string charset, from_content;
      for (const auto& [name, value] : read_attributes(head, k)) {
        if (name == "http-equiv" && ascii_iequals(trim(value), "content-type")) pragma = true;
        if (name == "charset" && charset.empty()) charset = value;
        if (name == "content" && from_content.empty()) from_content = charset_parameter(value);
      }
      std::string label = !charset.empty() ? charset : (pragma ? from_content : "");
      std::string name = canonical_charset(label);
      if (name == "utf-16le" || name == "utf-16be") name = "utf-8";
      if (name == "x-user-defined") name = "windows-1252";
      if (!name.empty()) return name;
      i = k;
      continue;
    }
    const bool end_tag = rest.size() > 1 && rest[1] == '/';
    const size_t name_at = i + (end_tag ? 2 : 1);
    if (name_at < head.size() && is_alpha(head[name_at])) {
      size_t k = name_at;
      while (k < head.size() && !is_space(head[k]) && head[k] != '>') ++k;
      read_attributes(head, k);  // so that a '<meta' inside a quoted value is not seen
      i = k;
      continue;
    }
    if (rest.starts_with("<!") || rest.starts_with("</") || rest.starts_with("<?")) {
      const size_t end = head.find('>', i);
      if (end == std::string_view::npos) return "";
      i = end + 1;
      continue;
    }
    ++i;
  }
  return "";
}

// Copies valid UTF-8 and writes U+FFFD for each maximal invalid subpart (as the WHATWG decoder
// does), so that a page's stray bytes stay visible as replacement characters. Returns whether
// the input was valid.
bool decode_utf8(std::string_view s, std::string* out) {
  bool valid = true;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (out) *out += char(b);
      ++i;
      continue;
    }
    int need = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;  // nothing past U+10FFFF
    }
    size_t j = i + 1;
    bool ok = need > 0;
    for (int k = 0; ok && k < need; ++k, ++j) {
      const unsigned char c = j < s.size() ? static_cast<unsigned char>(s[j]) : 0;
      if (j >= s.size() || c < low || c > high) ok = false;
      low = 0x80, high = 0xBF;
      if (!ok) break;
    }
    if (ok) {
      if (out) out->append(s.substr(i, j - i));
      i = j;
      continue;
    }
    valid = false;
    if (!out) return false;
    append_utf8(0xFFFD, *out);
    i = std::max(j, i + 1);
  }
  return valid;
}

std::string decode_windows_1252(std::string_view s) {
  // WHATWG's index for 0x80-0x9F; the other bytes are their Latin-1 code points.
  static constexpr uint16_t kHigh[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    const unsigned char b = static_cast<unsigned char>(ch);
    append_utf8(b >= 0x80 && b <= 0x9F ? kHigh[b - 0x80] : b, out);
  }
  return out;
}

// iconv's name for a WHATWG encoding, with the superset browsers decode it as; "" for none.
std::string iconv_name(const std::string& name) {
  if (name == "shift_jis") return "CP932";
  if (name == "euc-jp") return Iconv("EUC-JP-MS").valid() ? "EUC-JP-MS" : "EUC-JP";
  if (name == "gbk" || name == "gb18030") return "GB18030";
  if (name == "big5") return "BIG5-HKSCS";
  if (name == "euc-kr") return "CP949";
  if (name == "windows-874") return "CP874";
  if (name.starts_with("windows-125")) return "CP" + name.substr(8);
  std::string upper;
  for (char c : name) upper += (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c;
  return upper;
}

std::string convert_with_iconv(std::string_view body, const std::string& charset, const std::string& name) {
  Iconv cd(name.c_str());
  if (!cd.valid())
    throw Error("unknown character set '" + charset + "': iconv cannot convert it to UTF-8");
  std::string out(body.size() * 2 + 16, '\0');
  size_t used = 0;
  auto room = [&](size_t bytes) {
    if (out.size() - used < bytes) out.resize(std::max(out.size() * 2, used + bytes));
  };
  // One call converts; `in` null asks a stateful decoder (ISO-2022-JP) for what it holds.
  auto step = [&](char** in, size_t* in_left) {
    room(16);
    char* dst = out.data() + used;
    size_t dst_left = out.size() - used;
    const size_t r = iconv(cd.get(), in, in_left, &dst, &dst_left);
    const int error = r == size_t(-1) ? errno : 0;
    used = size_t(dst - out.data());
    return error;
  };
  char* in = const_cast<char*>(body.data());  // iconv's signature; it does not write there
  size_t in_left = body.size();
  while (in_left > 0) {
    const int error = step(&in, &in_left);
    if (error == 0 || error == E2BIG) continue;
    // EILSEQ (a bad sequence or one with no Unicode mapping) or EINVAL (cut off at the end).
    std::string fffd;
    append_utf8(0xFFFD, fffd);
    room(fffd.size());
    out.replace(used, fffd.size(), fffd);
    used += fffd.size();
    if (error != EILSEQ || in_left == 0) break;
    ++in;
    --in_left;
  }
  while (step(nullptr, nullptr) == E2BIG) {
  }
  out.resize(used);
  return out;
}

void strip_bom(std::string& s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.erase(0, 3);
}

}  // namespace

std::string detect_charset(std::string_view content_type_header, std::string_view body) {
  if (body.starts_with("\xEF\xBB\xBF")) return "utf-8";
  if (body.starts_with("\xFE\xFF")) return "utf-16be";
  if (body.starts_with("\xFF\xFE")) return "utf-16le";
  if (std::string name = canonical_charset(charset_parameter(content_type_header)); !name.empty()) return name;
  for (std::string label : {xml_declaration_encoding(body), meta_charset(body.substr(0, kPrescanBytes))}) {
    std::string name = canonical_charset(label);
    if (name == "utf-16le" || name == "utf-16be") name = "utf-8";  // declared in ASCII: not UTF-16
    if (!name.empty()) return name;
  }
  return decode_utf8(body, nullptr) ? "utf-8" : "windows-1252";
}

std::string to_utf8(std::string_view body, const std::string& charset) {
  const std::string name = canonical_charset(charset);
  if (name.empty()) throw Error("unknown character set '" + charset + "': iconv cannot convert it to UTF-8");
  std::string out;
  if (name == "utf-8") {
    out.reserve(body.size());
    decode_utf8(body, &out);
  } else if (name == "windows-1252") {
    out = decode_windows_1252(body);
  } else {
    // Checked again: some of iconv's decoders (its UTF-8 under another name, for one) let
    // invalid sequences through.
    const std::string converted = convert_with_iconv(body, charset, iconv_name(name));
    out.reserve(converted.size());
    decode_utf8(converted, &out);
  }
  strip_bom(out);
  return out;
}

}  // namespace nagare
