// Server-side request forgery guard for fetched pages: a link or search result must not make
// nagare reach loopback, the private network or cloud metadata addresses unless the user asks.
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>

#include <string>

namespace nagare {

// True for an address that is not a public unicast one. IPv4: 0/8, 10/8, 100.64/10, 127/8,
// 169.254/16, 172.16/12, 192.0.0/24, 192.168/16, 198.18/15 and 224/4 and above (multicast,
// reserved, broadcast). IPv6: ::, ::1, fc00::/7, fe80::/10, fec0::/10, ff00::/8, and the forms
// that carry an IPv4 address (::a.b.c.d, ::ffff:a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::/96 NAT64,
// 2002::/16 6to4) as that address. Any other family (AF_UNIX) counts as private.
bool is_private_address(const sockaddr* address);

// The numeric form of an AF_INET or AF_INET6 address, for messages: "127.0.0.1", "::1".
std::string address_text(const sockaddr* address);

// Checked where libcurl opens each connection (CURLOPT_OPENSOCKETFUNCTION), so every address of
// a DNS answer and every redirect goes through it, not only the first URL's host name.
class AddressGuard {
 public:
  explicit AddressGuard(bool allow_private) : allow_private_(allow_private) {}
  AddressGuard(const AddressGuard&) = delete;
  AddressGuard& operator=(const AddressGuard&) = delete;

  // Installs the check on a transfer; the guard must outlive it.
  void install(CURL* easy);
  // Why the last connection was refused, "" when none was: use it when the transfer fails
  // (libcurl itself reports only "could not connect").
  const std::string& refusal() const { return refusal_; }

 private:
  static curl_socket_t open_socket(void* self, curlsocktype purpose, curl_sockaddr* address);

  bool allow_private_;
  std::string refusal_;
};

}  // namespace nagare
