#include "store/model_name.h"

#include <vector>

#include "util/error.h"

namespace nagare {
namespace {

constexpr size_t kMaxNameBytes = 300;
constexpr size_t kMaxPartBytes = 96;
constexpr size_t kMaxHostBytes = 253;

constexpr const char* kNameShape =
    "a name looks like NAME[:TAG], NAMESPACE/NAME[:TAG] or hf.co/OWNER/REPO[:QUANT], e.g. smollm2:135m";

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

[[noreturn]] void fail(std::string_view text, const std::string& why) {
  throw Error("invalid model name " + quote_for_message(text) + ": " + why + "; " + kNameShape);
}

void check_part(std::string_view text, std::string_view part, const char* what) {
  if (part.empty()) fail(text, std::string("its ") + what + " is empty");
  if (part.size() > kMaxPartBytes)
    fail(text, std::string("its ") + what + " is longer than " + std::to_string(kMaxPartBytes) + " characters");
  if (!is_alnum(part[0]) && part[0] != '_')
    fail(text, std::string("its ") + what + " must start with a letter, a digit or '_'");
  for (char c : part)
    if (!is_model_name_char(c))
      fail(text, std::string("the character ") + quote_for_message(std::string_view(&c, 1)) + " is not allowed in its " +
                     what + " (letters, digits, '_', '.' and '-' are)");
}

void check_host(std::string_view text, std::string& host) {
  if (host.empty()) fail(text, "its host is empty");
  if (host.size() > kMaxHostBytes) fail(text, "its host is longer than " + std::to_string(kMaxHostBytes) + " characters");
  for (char& c : host) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (!is_alnum(c) && c != '.' && c != '-' && c != ':')
      fail(text, "the character " + quote_for_message(std::string_view(&c, 1)) +
                     " is not allowed in its host (letters, digits, '.', '-' and ':PORT' are)");
  }
  if (!is_alnum(host[0])) fail(text, "its host must start with a letter or a digit");
  if (host == "huggingface.co") host = ModelName::kHuggingFaceHost;
}

}  // namespace

bool is_model_name_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }

std::string quote_for_message(std::string_view s) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 120) {
      out += "...";
      break;
    }
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out + "'";
}

ModelName ModelName::parse(std::string_view text) {
  // Checks that name a path-like danger come first, with their own message, before any
  // generic character rule, so the user learns why the name is refused.
  if (text.empty()) fail(text, "it is empty");
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) fail(text, "it contains a control character (or NUL)");
  if (text.size() > kMaxNameBytes) fail(text, "it is longer than " + std::to_string(kMaxNameBytes) + " characters");
  if (text.find('\\') != std::string_view::npos) fail(text, "it contains a backslash");
  if (text[0] == '/') fail(text, "it starts with '/' (a model name is not a path; `-m FILE` takes a .gguf file)");
  if (text.find("..") != std::string_view::npos) fail(text, "it contains '..'");
  for (char c : text)
    if (c == ' ' || c == '\t') fail(text, "it contains a space");

  ModelName n;
  std::string_view base = text;
  const size_t slash = text.rfind('/');
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    base = text.substr(0, colon);
    n.tag = std::string(text.substr(colon + 1));
    if (n.tag.empty()) fail(text, "its tag (after ':') is empty");
  }
  if (base.empty()) fail(text, "its name (before ':') is empty");
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = base.find('/', start);
    parts.push_back(base.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  for (auto p : parts)
    if (p.empty()) fail(text, "it has an empty part between '/'");
  if (parts.size() > 3) fail(text, "it has more than three '/'-separated parts (host/namespace/name)");
  if (parts.size() == 3) {
    n.host = std::string(parts[0]);
    check_host(text, n.host);
  }
  if (parts.size() >= 2) {
    n.ns = std::string(parts[parts.size() - 2]);
    check_part(text, n.ns, "namespace");
  }
  n.name = std::string(parts.back());
  check_part(text, n.name, "name");
  check_part(text, n.tag, "tag");
  return n;
}

std::string ModelName::display() const {
  std::string out;
  if (host != kDefaultHost) out = host + "/" + ns + "/";
  else if (ns != kDefaultNamespace) out = ns + "/";
  return out + name + ":" + tag;
}

std::string ModelName::manifest_relpath() const { return host + "/" + ns + "/" + name + "/" + tag; }

}  // namespace nagare
