#include "pipeline/address_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>

namespace nagare {
namespace {

bool private_ipv4(uint32_t a) {  // host byte order
  const uint32_t top = a >> 24;
  return top == 0 || top == 10 || top == 127 ||
         (a & 0xFFC00000u) == 0x64400000u ||  // 100.64/10, carrier-grade NAT
         (a & 0xFFFF0000u) == 0xA9FE0000u ||  // 169.254/16, link-local (cloud metadata)
         (a & 0xFFF00000u) == 0xAC100000u ||  // 172.16/12
         (a & 0xFFFFFF00u) == 0xC0000000u ||  // 192.0.0/24, IETF protocol assignments
         (a & 0xFFFF0000u) == 0xC0A80000u ||  // 192.168/16
         (a & 0xFFFE0000u) == 0xC6120000u ||  // 198.18/15, benchmarking
         a >= 0xE0000000u;                    // multicast, reserved, broadcast
}

uint32_t ipv4_at(const uint8_t* b) {
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

bool zeros(const uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (b[i]) return false;
  return true;
}

bool private_ipv6(const uint8_t* b) {
  // IPv4-compatible ::a.b.c.d (which covers :: and ::1), mapped ::ffff:a.b.c.d and translated
  // ::ffff:0:a.b.c.d: the kernel or a translator may deliver them to the IPv4 address.
  if (zeros(b, 10) && ((b[10] == 0 && b[11] == 0) || (b[10] == 0xFF && b[11] == 0xFF))) return private_ipv4(ipv4_at(b + 12));
  if (zeros(b, 8) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0) return private_ipv4(ipv4_at(b + 12));
  static const uint8_t kNat64[12] = {0x00, 0x64, 0xFF, 0x9B};
  if (std::memcmp(b, kNat64, 12) == 0) return private_ipv4(ipv4_at(b + 12));
  if (b[0] == 0x20 && b[1] == 0x02) return private_ipv4(ipv4_at(b + 2));  // 6to4
  if ((b[0] & 0xFE) == 0xFC) return true;                                 // fc00::/7 unique local
  if (b[0] == 0xFE && (b[1] & 0x80) == 0x80) return true;                 // fe80::/10 link-local, fec0::/10 site-local
  return b[0] == 0xFF;                                                    // multicast
}

}  // namespace

bool is_private_address(const sockaddr* address) {
  if (!address) return true;
  if (address->sa_family == AF_INET) {
    sockaddr_in a;
    std::memcpy(&a, address, sizeof a);
    return private_ipv4(ntohl(a.sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 a;
    std::memcpy(&a, address, sizeof a);
    return private_ipv6(a.sin6_addr.s6_addr);
  }
  return true;
}

std::string address_text(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) {
    sockaddr_in a;
    std::memcpy(&a, address, sizeof a);
    inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 a;
    std::memcpy(&a, address, sizeof a);
    inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf);
  } else {
    return "address family " + std::to_string(address->sa_family);
  }
  return buf;
}

void AddressGuard::install(CURL* easy) {
  refusal_.clear();
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &AddressGuard::open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
}

curl_socket_t AddressGuard::open_socket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto& guard = *static_cast<AddressGuard*>(self);
  if (purpose == CURLSOCKTYPE_IPCXN && !guard.allow_private_ && is_private_address(&address->addr)) {
    guard.refusal_ = "private address refused: " + address_text(&address->addr) +
                     " is a loopback, private or reserved address (--allow-private fetches it)";
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

}  // namespace nagare
