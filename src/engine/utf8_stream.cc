// Utf8Stream: a byte-at-a-time UTF-8 validator in the WHATWG / Unicode "maximal subpart" style,
// so a stream split anywhere yields exactly what decoding the whole byte string at once would.
#include "engine/utf8_stream.h"

namespace nagare {

namespace {
constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
}

void Utf8Stream::push_byte(uint8_t b, std::string& out) {
  if (pending_len_ == 0) {
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      return;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      needed_ = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      needed_ = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      needed_ = 4;
    } else {  // a stray continuation byte, an overlong lead (C0, C1) or beyond U+10FFFF
      out.append(kReplacement, 3);
      return;
    }
    pending_[0] = static_cast<char>(b);
    pending_len_ = 1;
    return;
  }
  // The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and code points
  // past U+10FFFF (F4); later bytes are plain continuation bytes.
  uint8_t lo = 0x80, hi = 0xBF;
  if (pending_len_ == 1) {
    switch (static_cast<uint8_t>(pending_[0])) {
      case 0xE0: lo = 0xA0; break;
      case 0xED: hi = 0x9F; break;
      case 0xF0: lo = 0x90; break;
      case 0xF4: hi = 0x8F; break;
      default: break;
    }
  }
  if (b < lo || b > hi) {
    // The held bytes are one maximal subpart: one U+FFFD; then `b` starts afresh.
    out.append(kReplacement, 3);
    pending_len_ = 0;
    push_byte(b, out);
    return;
  }
  pending_[pending_len_++] = static_cast<char>(b);
  if (pending_len_ == needed_) {
    out.append(pending_, static_cast<size_t>(needed_));
    pending_len_ = 0;
  }
}

void Utf8Stream::push(std::string_view bytes, std::string& out) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (pending_len_ == 0 && static_cast<uint8_t>(bytes[i]) < 0x80) {
      size_t j = i + 1;  // copy a run of ASCII at once
      while (j < bytes.size() && static_cast<uint8_t>(bytes[j]) < 0x80) ++j;
      out.append(bytes.data() + i, j - i);
      i = j;
      continue;
    }
    push_byte(static_cast<uint8_t>(bytes[i]), out);
    ++i;
  }
}

void Utf8Stream::finish(std::string& out) {
  if (pending_len_ > 0) out.append(kReplacement, 3);
  pending_len_ = 0;
}

}  // namespace nagare
