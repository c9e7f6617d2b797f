// Which addresses the fetcher's request-forgery guard refuses (src/pipeline/address_guard.h);
// the guard on live connections is in fetcher_test.cc.
#include "pipeline/address_guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace nagare {
namespace {

bool private_address(const char* text) {
  sockaddr_storage s{};
  if (std::string(text).find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&s);
    a->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text, &a->sin6_addr), 1) << text;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&s);
    a->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text, &a->sin_addr), 1) << text;
  }
  return is_private_address(reinterpret_cast<sockaddr*>(&s));
}

TEST(AddressGuard, PrivateIpv4) {
  for (const char* a : {"0.0.0.0", "0.255.1.2", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254",
                        "127.0.0.1", "127.1.2.3", "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8",
                        "192.168.1.1", "198.18.0.1", "198.19.255.255", "224.0.0.1", "239.255.255.250",
                        "240.0.0.1", "255.255.255.255"})
    EXPECT_TRUE(private_address(a)) << a;
}

TEST(AddressGuard, PublicIpv4) {
  for (const char* a : {"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.1", "100.63.255.255", "100.128.0.1",
                        "126.255.255.255", "128.0.0.1", "169.253.0.1", "172.15.255.255", "172.32.0.1", "192.0.1.1",
                        "192.167.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
                        "93.184.216.34"})
    EXPECT_FALSE(private_address(a)) << a;
}

TEST(AddressGuard, PrivateIpv6) {
  for (const char* a : {"::", "::1", "fc00::1", "fdff:ffff::1", "fe80::1", "febf::1", "fec0::1", "ff02::1",
                        "ff0e::1",
                        // IPv4 inside IPv6, checked as the IPv4 address
                        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1",
                        "::ffff:0:192.168.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2002:c0a8:0101::1"})
    EXPECT_TRUE(private_address(a)) << a;
}

TEST(AddressGuard, PublicIpv6) {
  for (const char* a : {"2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001::200e",
                        "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:0808:0808::1", "fbff::1", "fe7f::1"})
    EXPECT_FALSE(private_address(a)) << a;
}

TEST(AddressGuard, OtherFamiliesArePrivate) {
  sockaddr_un u{};
  u.sun_family = AF_UNIX;
  EXPECT_TRUE(is_private_address(reinterpret_cast<sockaddr*>(&u)));
}

TEST(AddressGuard, AddressText) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "169.254.169.254", &a.sin_addr);
  EXPECT_EQ(address_text(reinterpret_cast<sockaddr*>(&a)), "169.254.169.254");
  sockaddr_in6 b{};
  b.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::1", &b.sin6_addr);
  EXPECT_EQ(address_text(reinterpret_cast<sockaddr*>(&b)), "::1");
}

}  // namespace
}  // namespace nagare
