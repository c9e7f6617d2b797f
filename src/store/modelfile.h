// Modelfile parser (Ollama's format): FROM, SYSTEM, TEMPLATE, PARAMETER, MESSAGE, LICENSE, with
// "quoted" and """multi-line""" values and # comments. Every error names the file and line.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/manifest.h"

namespace nagare {

struct Modelfile {
  std::string from;  // a store name, or a path to a .gguf file (relative to base_dir)
  int from_line = 0;
  std::optional<std::string> template_text;
  std::optional<std::string> system;
  std::optional<std::string> license;
  nlohmann::json parameters = nlohmann::json::object();  // as Manifest::parameters
  std::vector<ManifestMessage> messages;
  std::string base_dir = ".";  // the Modelfile's directory

  // Parses Modelfile text; `where` names it in errors: "<where>:<line>: <problem>".
  static Modelfile parse(std::string_view text, const std::string& where);
  // Reads and parses the file at `path` (base_dir becomes its directory).
  static Modelfile read(const std::string& path);
};

// A Modelfile that recreates a stored model: FROM `from`, then the manifest's overrides. (The
// format cannot hold every value: one that spans lines and ends with '"' comes back with a line
// break added; one that spans lines and contains three quotes cannot be written.)
std::string modelfile_text(const Manifest& m, const std::string& from);

}  // namespace nagare
