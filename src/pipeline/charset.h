// The character set a fetched page is written in, and its bytes converted to UTF-8 (glibc's
// iconv, with the decoders browsers use for Japanese pages), so that everything after the
// fetch sees UTF-8 only.
#pragma once

#include <string>
#include <string_view>

namespace nagare {

// The page's charset, from the first of: a byte order mark, the Content-Type header's
// charset, an XML declaration's encoding, a <meta charset> or <meta http-equiv="Content-Type"
// content="...; charset=..."> in the first 4 KiB (the WHATWG prescan, simplified); else
// "utf-8" when the bytes are valid UTF-8, else "windows-1252". A label is lowercased and
// mapped to its WHATWG name for the common ones ("sjis", "windows-31j" -> "shift_jis";
// "x-euc-jp" -> "euc-jp"; "latin1", "iso-8859-1", "us-ascii" -> "windows-1252"); a label
// neither WHATWG nor iconv knows is skipped. A page that declares UTF-16 in its own ASCII
// markup is UTF-8 (as browsers read it).
std::string detect_charset(std::string_view content_type_header, std::string_view body);

// `body` in `charset` (a label as above) as UTF-8, without a leading byte order mark. Bytes
// that are invalid or have no Unicode mapping become U+FFFD; Shift_JIS decodes as CP932 and
// EUC-JP as EUC-JP-MS (the supersets browsers use). Throws nagare::Error only for a charset
// that iconv cannot convert.
std::string to_utf8(std::string_view body, const std::string& charset);

}  // namespace nagare
