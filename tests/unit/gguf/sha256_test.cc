// SHA-256 against the FIPS 180-4 / NIST example vectors, whole and fed in uneven pieces.
#include "util/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace nagare {
namespace {

TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalMatchesOneShot) {
  std::string msg;
  for (int i = 0; i < 1000; ++i) msg += char(i * 7 + 3);
  const std::string want = sha256_hex(msg);
  // Every split around the 55/56/64-byte padding boundaries and some uneven chunkings.
  for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 999, 1000}) {
    for (size_t chunk : {1, 3, 63, 64, 65, 200}) {
      Sha256 h;
      for (size_t p = 0; p < len; p += chunk) h.update(msg.data() + p, std::min(chunk, len - p));
      EXPECT_EQ(h.hex_digest(), sha256_hex(msg.substr(0, len))) << len << " " << chunk;
    }
  }
  Sha256 h;
  h.update(msg);
  EXPECT_EQ(h.hex_digest(), want);
}

}  // namespace
}  // namespace nagare
