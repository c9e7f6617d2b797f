// Utf8Stream: turns the bytes of detokenized pieces into text that is always valid UTF-8, holding
// back a character split across tokens until it completes (byte-fallback tokens split emoji and
// CJK characters), and replacing invalid bytes with U+FFFD as Python's errors="replace" does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nagare {

class Utf8Stream {
 public:
  // Appends to `out` the text completed by `bytes`; keeps an incomplete trailing character.
  // Does not allocate beyond `out`'s growth.
  void push(std::string_view bytes, std::string& out);
  std::string push(std::string_view bytes) {
    std::string out;
    push(bytes, out);
    return out;
  }

  // Flushes what is held: an incomplete character becomes one U+FFFD. The stream is then empty.
  void finish(std::string& out);
  std::string finish() {
    std::string out;
    finish(out);
    return out;
  }

  void reset() { pending_len_ = 0; }
  bool has_pending() const { return pending_len_ > 0; }

 private:
  void push_byte(uint8_t b, std::string& out);

  char pending_[4] = {};  // a valid but incomplete character: lead byte + continuations
  int pending_len_ = 0;
  int needed_ = 0;        // total length of the pending character
};

}  // namespace nagare
