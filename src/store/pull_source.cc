#include "store/pull_source.h"

#include <cctype>

#include "util/error.h"

namespace nagare {
namespace {

bool has_prefix_ci(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(p[i]))) return false;
  return true;
}

// A tag or name made from a file name: invalid characters become '-', it starts with a letter,
// digit or '_', and is at most 80 characters.
std::string sanitize_part(std::string_view s, bool to_lower) {
  std::string out;
  for (char c : s) {
    if (to_lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    out += is_model_name_char(c) ? c : '-';
  }
  while (!out.empty() && (out[0] == '.' || out[0] == '-')) out.erase(0, 1);
  // ".." would be refused as a name; collapse it.
  for (size_t at; (at = out.find("..")) != std::string::npos;) out.erase(at, 1);
  if (out.size() > 80) out.resize(80);
  return out.empty() ? "model" : out;
}

std::string file_stem(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (ends_with_gguf(base)) base.remove_suffix(5);
  return std::string(base);
}

}  // namespace

bool ends_with_gguf(std::string_view s) { return s.size() > 5 && has_prefix_ci(s.substr(s.size() - 5), ".gguf"); }

std::optional<PullSource> parse_pull_source(std::string_view text) {
  PullSource s;
  if (has_prefix_ci(text, "http://") || has_prefix_ci(text, "https://")) {
    for (unsigned char c : text)
      if (c <= 0x20 || c == 0x7f)
        throw Error("invalid URL " + quote_for_message(text) + ": it contains a space or control character");
    s.kind = PullSource::Kind::kUrl;
    s.url = std::string(text);
    std::string_view path = text.substr(text.find("://") + 3);
    size_t q = path.find_first_of("?#");
    if (q != std::string_view::npos) path = path.substr(0, q);
    size_t slash = path.find('/');
    if (slash == std::string_view::npos || slash + 1 == path.size())
      throw Error("cannot pull " + quote_for_message(text) + ": the URL names no file (it should end in FILE.gguf)");
    s.name = ModelName::parse(sanitize_part(file_stem(path.substr(slash + 1)), true));
    return s;
  }
  if (text.find("://") != std::string_view::npos)
    throw Error("cannot pull " + quote_for_message(text) + ": only http:// and https:// URLs are supported");
  std::string_view rest;
  if (has_prefix_ci(text, "hf.co/")) rest = text.substr(6);
  else if (has_prefix_ci(text, "huggingface.co/")) rest = text.substr(15);
  else return std::nullopt;

  size_t first = rest.find('/');
  if (first == std::string_view::npos)
    throw Error("cannot pull " + quote_for_message(text) + ": a Hugging Face source is hf.co/OWNER/REPO[:QUANT] or "
                "hf.co/OWNER/REPO/FILE.gguf");
  size_t second = rest.find('/', first + 1);
  if (second == std::string_view::npos) {  // hf.co/OWNER/REPO[:QUANT]
    s.kind = PullSource::Kind::kHubRepo;
    s.name = ModelName::parse(std::string("hf.co/") + std::string(rest));
    s.owner = s.name.ns;
    s.repo = s.name.name;
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) s.quant = s.name.tag;
    return s;
  }
  s.kind = PullSource::Kind::kHubFile;
  s.name = ModelName::parse(std::string("hf.co/") + std::string(rest.substr(0, second)));
  s.owner = s.name.ns;
  s.repo = s.name.name;
  s.file = std::string(rest.substr(second + 1));
  if (!ends_with_gguf(s.file))
    throw Error("cannot pull " + quote_for_message(text) + ": hf.co/OWNER/REPO/FILE must name a .gguf file");
  // The file path goes into a URL, never into a file name; still, refuse what could step outside.
  for (unsigned char c : s.file)
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '?' || c == '#' || c == '%')
      throw Error("cannot pull " + quote_for_message(text) + ": the file name has a character a Hub path cannot have");
  if (s.file.find("..") != std::string::npos || s.file.find("//") != std::string::npos || s.file[0] == '/')
    throw Error("cannot pull " + quote_for_message(text) + ": the file path has an empty or '..' part");
  s.name.tag = sanitize_part(file_stem(s.file), false);
  s.name = ModelName::parse(s.name.display());  // checks the tag
  return s;
}


}  // namespace nagare
