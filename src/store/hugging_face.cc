#include "store/hugging_face.h"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "store/http_client.h"
#include "util/error.h"
#include "util/percent_encode.h"

namespace nagare {
namespace {

using json = nlohmann::json;

constexpr const char* kDefaultQuant = "Q4_K_M";
constexpr int kMaxPages = 100;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_gguf(const HubFile& f) {
  std::string name = lower(base_name(f.path));
  return name.size() > 5 && name.substr(name.size() - 5) == ".gguf" && name.rfind("mmproj", 0) != 0;
}

bool is_split_part(const std::string& path) {
  static const std::regex kSplit(R"(-\d{5}-of-\d{5}\.gguf$)", std::regex::icase);
  return std::regex_search(path, kSplit);
}

std::string list_names(const std::vector<HubFile>& files) {
  std::string out;
  size_t n = 0;
  for (const auto& f : files) {
    if (++n > 30) {
      out += ", ... (" + std::to_string(files.size() - 30) + " more)";
      break;
    }
    out += (out.empty() ? "" : ", ") + f.path;
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

std::string hf_endpoint() {
  std::string e = "https://huggingface.co";
  if (const char* env = std::getenv("HF_ENDPOINT"); env && *env) e = env;
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

std::vector<std::string> hf_auth_headers() {
  std::vector<std::string> h;
  if (const char* token = std::getenv("HF_TOKEN"); token && *token) h.push_back(std::string("Authorization: Bearer ") + token);
  return h;
}

std::vector<HubFile> parse_hub_tree(std::string_view text, const std::string& what) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_array())
    throw Error(what + ": the file listing is not a JSON array (is HF_ENDPOINT a Hugging Face Hub?)");
  std::vector<HubFile> files;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("path") || !e["path"].is_string())
      throw Error(what + ": the file listing has an entry without a \"path\"");
    if (e.value("type", "file") != "file") continue;
    HubFile f;
    f.path = e["path"].get<std::string>();
    if (e.contains("size") && e["size"].is_number_unsigned()) f.size = e["size"].get<uint64_t>();
    if (auto lfs = e.find("lfs"); lfs != e.end() && lfs->is_object()) {
      if (lfs->contains("size") && (*lfs)["size"].is_number_unsigned()) f.size = (*lfs)["size"].get<uint64_t>();
      if (lfs->contains("oid") && (*lfs)["oid"].is_string()) {
        std::string oid = lower((*lfs)["oid"].get<std::string>());
        if (oid.rfind("sha256:", 0) == 0) oid = oid.substr(7);
        bool hex = oid.size() == 64;
        for (char c : oid) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
        if (!hex) throw Error(what + ": the listing's sha256 of " + f.path + " is not 64 hex digits");
        f.sha256 = oid;
      }
    }
    files.push_back(std::move(f));
  }
  return files;
}

std::vector<HubFile> list_hub_files(const std::string& endpoint, const std::string& owner, const std::string& repo) {
  const std::string what = "hf.co/" + owner + "/" + repo;
  std::string url = endpoint + "/api/models/" + owner + "/" + repo + "/tree/main?recursive=true";
  std::vector<HubFile> files;
  for (int page = 0; page < kMaxPages && !url.empty(); ++page) {
    HttpResult r = http_get(url, hf_auth_headers());
    if (!r.error.empty()) throw Error(what + ": cannot list the repository's files at " + url + ": " + r.error);
    if (r.status == 401 || r.status == 403)
      throw Error(what + ": access denied (HTTP " + std::to_string(r.status) + " from " + url +
                  "): the repository may be gated or private; accept its terms on the Hub and set HF_TOKEN to a token "
                  "that can read it");
    if (r.status == 404)
      throw Error(what + ": no such repository (HTTP 404 from " + url + "); check OWNER/REPO" +
                  (std::getenv("HF_TOKEN") ? "" : ", or set HF_TOKEN if it is private"));
    if (r.status != 200) throw Error(what + ": listing its files failed: HTTP " + std::to_string(r.status) + " from " + url);
    auto page_files = parse_hub_tree(r.body, what);
    files.insert(files.end(), page_files.begin(), page_files.end());
    url = r.next_page;
  }
  return files;
}

std::string hub_file_url(const std::string& endpoint, const std::string& owner, const std::string& repo,
                         const std::string& path) {
  return endpoint + "/" + owner + "/" + repo + "/resolve/main/" + percent_encode(path, "/");
}

bool file_name_has_quant(std::string_view file_name, std::string_view quant) {
  if (quant.empty()) return false;
  const std::string name = lower(file_name), q = lower(quant);
  for (size_t at = name.find(q); at != std::string::npos; at = name.find(q, at + 1)) {
    const char before = at == 0 ? '.' : name[at - 1];
    const size_t end = at + q.size();
    const char after = end == name.size() ? '.' : name[end];
    if ((before == '.' || before == '-' || before == '_') && (after == '.' || after == '-')) return true;
  }
  return false;
}

HubFile pick_gguf(const std::vector<HubFile>& files, std::string_view quant, const std::string& repo_display) {
  std::vector<HubFile> ggufs;
  for (const auto& f : files)
    if (is_gguf(f)) ggufs.push_back(f);
  if (ggufs.empty())
    throw Error(repo_display + ": the repository has no .gguf file (its files: " + list_names(files) +
                "); nagare runs GGUF models only");
  const std::string want = quant.empty() ? kDefaultQuant : std::string(quant);
  std::vector<HubFile> matches;
  for (const auto& f : ggufs)
    if (file_name_has_quant(base_name(f.path), want)) matches.push_back(f);
  if (matches.empty() && quant.empty() && ggufs.size() == 1) matches = ggufs;
  if (matches.empty()) {
    if (quant.empty())
      throw Error(repo_display + " has several GGUF files and none is " + want + ": pick one with " + repo_display +
                  ":QUANT or " + repo_display + "/FILE.gguf; its GGUF files: " + list_names(ggufs));
    throw Error(repo_display + ": no GGUF file carries '" + want + "' in its name; its GGUF files: " + list_names(ggufs));
  }
  bool all_split = true;
  for (const auto& f : matches) all_split = all_split && is_split_part(f.path);
  if (all_split)
    throw Error(repo_display + ": the " + want + " model is split into parts (" + list_names(matches) +
                "), which nagare cannot load yet; merge them with llama.cpp's gguf-split --merge and `nagare create`");
  if (matches.size() > 1)
    throw Error(repo_display + ": several GGUF files carry '" + want + "': " + list_names(matches) + "; name one with " +
                repo_display + "/FILE.gguf");
  return matches[0];
}

}  // namespace nagare
