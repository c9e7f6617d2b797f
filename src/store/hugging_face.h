// The Hugging Face Hub as a pull source: the base URL ($HF_ENDPOINT, the huggingface_hub
// convention), the token ($HF_TOKEN), a repository's file list (GET
// {endpoint}/api/models/OWNER/REPO/tree/main) and which GGUF file a `:QUANT` means.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nagare {

struct HubFile {
  std::string path;    // in the repository, e.g. "SmolLM2-135M-Instruct.Q4_1.gguf"
  uint64_t size = 0;   // bytes
  std::string sha256;  // lower-case hex of an LFS file's content; empty when the Hub gives none
};

// $HF_ENDPOINT without a trailing '/', default "https://huggingface.co".
std::string hf_endpoint();
// Request headers for the Hub: "Authorization: Bearer $HF_TOKEN" when that is set.
std::vector<std::string> hf_auth_headers();

// Parses a tree listing (a JSON array of {"type", "path", "size", "lfs": {"oid", "size"}});
// keeps files, drops directories. Throws Error "<what>: ..." on anything else.
std::vector<HubFile> parse_hub_tree(std::string_view json_text, const std::string& what);

// Lists a repository's files (all pages, recursively). Throws Error saying what to do on 401/403
// (gated or private: HF_TOKEN), 404 (no such repository) and transport failures.
std::vector<HubFile> list_hub_files(const std::string& endpoint, const std::string& owner, const std::string& repo);

// {endpoint}/{owner}/{repo}/resolve/main/{path}, the path percent-encoded.
std::string hub_file_url(const std::string& endpoint, const std::string& owner, const std::string& repo,
                         const std::string& path);

// The GGUF file a pull of `repo_display` (e.g. "hf.co/owner/repo") with `quant` means: the one
// whose file name carries QUANT as a word (case-insensitive; "Q4_K" is not "Q4_K_M"); with no
// quant, Q4_K_M, else the only GGUF file. Vision projectors (mmproj*) never count. Throws Error
// listing the candidates when none or several match, or the match is split into parts.
HubFile pick_gguf(const std::vector<HubFile>& files, std::string_view quant, const std::string& repo_display);

// Whether `file_name` carries `quant` as a word, case-insensitively.
bool file_name_has_quant(std::string_view file_name, std::string_view quant);

}  // namespace nagare
