#include "store/modelfile.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace nagare {
namespace {

using json = nlohmann::json;

constexpr const char* kInstructions = "FROM, SYSTEM, TEMPLATE, PARAMETER, MESSAGE, LICENSE";
constexpr size_t kMaxModelfileBytes = 16u << 20;

class Parser {
 public:
  Parser(std::string_view text, const std::string& where) : s_(text), where_(where) {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
  }

  Modelfile run() {
    Modelfile mf;
    for (;;) {
      skip_blank_lines_and_comments();
      if (pos_ >= s_.size()) break;
      const int line = line_;
      std::string word = read_word();
      std::string upper = word;
      for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
      if (word.empty()) fail(line, "expected an instruction (" + std::string(kInstructions) + ")");
      if (upper == "FROM") {
        if (!mf.from.empty()) fail(line, "a second FROM (the first is on line " + std::to_string(mf.from_line) + ")");
        mf.from = read_value(line, "FROM");
        if (mf.from.empty()) fail(line, "FROM needs a model name or the path of a .gguf file");
        mf.from_line = line;
      } else if (upper == "SYSTEM") {
        mf.system = read_value(line, "SYSTEM");
      } else if (upper == "TEMPLATE") {
        mf.template_text = read_value(line, "TEMPLATE");
        if (mf.template_text->empty()) fail(line, "TEMPLATE is empty");
      } else if (upper == "LICENSE") {
        // Several LICENSE lines add up, as a model may carry more than one license.
        std::string text = read_value(line, "LICENSE");
        mf.license = mf.license ? *mf.license + "\n\n" + text : text;
      } else if (upper == "PARAMETER") {
        std::string name = read_word();
        if (name.empty()) fail(line, "PARAMETER needs a name and a value, e.g. PARAMETER temperature 0.7");
        const ParameterSpec* spec = find_parameter_spec(name);
        if (!spec) fail(line, "unknown parameter '" + name + "'; known: " + known_parameters());
        std::string value = read_value(line, "PARAMETER " + name);
        if (value.empty()) fail(line, "PARAMETER " + name + " needs a value");
        json v;
        try {
          v = parse_parameter_value(*spec, value);
        } catch (const Error& e) {
          fail(line, e.what());
        }
        if (spec->repeated) {
          if (!mf.parameters.contains(name)) mf.parameters[name] = json::array();
          mf.parameters[name].push_back(v);
        } else {
          mf.parameters[name] = v;
        }
      } else if (upper == "MESSAGE") {
        std::string role = read_word();
        if (role != "system" && role != "user" && role != "assistant")
          fail(line, role.empty() ? "MESSAGE needs a role (system, user or assistant) and its content"
                                  : "MESSAGE role '" + role + "' is not system, user or assistant");
        mf.messages.push_back({role, read_value(line, "MESSAGE " + role)});
      } else if (upper == "ADAPTER") {
        fail(line, "ADAPTER (LoRA adapters) is not supported");
      } else {
        fail(line, "unknown instruction '" + word + "'; a Modelfile knows " + kInstructions);
      }
    }
    if (mf.from.empty())
      throw Error(where_ + ": no FROM line: a Modelfile must say which model it builds on (FROM NAME or FROM ./file.gguf)");
    return mf;
  }

 private:
  [[noreturn]] void fail(int line, const std::string& why) {
    throw Error(where_ + ":" + std::to_string(line) + ": " + why);
  }

  static std::string known_parameters() {
    std::string out;
    for (const auto& s : parameter_specs()) out += (out.empty() ? "" : ", ") + std::string(s.name);
    return out;
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }
  void advance() {
    if (s_[pos_] == '\n') ++line_;
    ++pos_;
  }
  void skip_spaces() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\r')) advance();
  }
  void skip_blank_lines_and_comments() {
    for (;;) {
      skip_spaces();
      if (at_end()) return;
      if (peek() == '\n') {
        advance();
      } else if (peek() == '#') {
        while (!at_end() && peek() != '\n') advance();
      } else {
        return;
      }
    }
  }
  // A run of non-space characters on the current line.
  std::string read_word() {
    skip_spaces();
    size_t start = pos_;
    while (!at_end() && !std::isspace(static_cast<unsigned char>(peek()))) advance();
    return std::string(s_.substr(start, pos_ - start));
  }
  // The rest of the instruction: """multi-line""", "quoted" (\" and \\ escapes) or the rest of
  // the line with surrounding spaces trimmed. Consumes the end of the line.
  std::string read_value(int line, const std::string& what) {
    skip_spaces();
    std::string value;
    if (s_.substr(pos_, 3) == "\"\"\"") {
      for (int i = 0; i < 3; ++i) advance();
      size_t close = s_.find("\"\"\"", pos_);
      if (close == std::string_view::npos) fail(line, what + ": the \"\"\" opened here is never closed");
      value = std::string(s_.substr(pos_, close - pos_));
      while (pos_ < close + 3) advance();
      end_of_line(line, what);
      return value;
    }
    if (peek() == '"') {
      advance();
      for (;;) {
        if (at_end() || peek() == '\n') fail(line, what + ": the quoted value is not closed on its line (use \"\"\" for several lines)");
        char c = peek();
        advance();
        if (c == '"') break;
        if (c == '\\' && (peek() == '"' || peek() == '\\')) {
          c = peek();
          advance();
        }
        value += c;
      }
      end_of_line(line, what);
      return value;
    }
    size_t start = pos_;
    while (!at_end() && peek() != '\n') advance();
    std::string_view v = s_.substr(start, pos_ - start);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return std::string(v);
  }
  void end_of_line(int line, const std::string& what) {
    skip_spaces();
    if (!at_end() && peek() != '\n') fail(line_, what + ": unexpected text after the closing quote");
    (void)line;
  }

  std::string_view s_;
  std::string where_;
  size_t pos_ = 0;
  int line_ = 1;
};

// A value written back so that Parser reads it unchanged.
std::string quote_value(const std::string& v) {
  const bool plain = !v.empty() && v.find('\n') == std::string::npos && !std::isspace(static_cast<unsigned char>(v[0])) &&
                     !std::isspace(static_cast<unsigned char>(v.back())) && v[0] != '"';
  if (plain) return v;
  const bool multi_line = v.find('\n') != std::string::npos;
  if (v.find("\"\"\"") == std::string::npos && (multi_line || v.empty() || v.back() != '"'))
    return "\"\"\"" + v + (!v.empty() && v.back() == '"' ? "\n" : "") + "\"\"\"";
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;  // a newline here would not parse back: a value with both """ and a line break
  }
  return out + "\"";
}

}  // namespace

Modelfile Modelfile::parse(std::string_view text, const std::string& where) {
  if (text.size() > kMaxModelfileBytes) throw Error(where + ": larger than 16 MiB; is this really a Modelfile?");
  if (text.find('\0') != std::string_view::npos) {
    size_t line = 1;
    for (char c : text.substr(0, text.find('\0'))) line += c == '\n';
    throw Error(where + ":" + std::to_string(line) + ": a NUL byte (is this a binary file, not a Modelfile?)");
  }
  return Parser(text, where).run();
}

Modelfile Modelfile::read(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a Modelfile");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  Modelfile mf = parse(buf.str(), path);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  mf.base_dir = dir.empty() ? "." : dir.string();
  return mf;
}

std::string modelfile_text(const Manifest& m, const std::string& from) {
  std::string out = "FROM " + from + "\n";
  if (m.template_text) out += "TEMPLATE " + quote_value(*m.template_text) + "\n";
  if (m.system) out += "SYSTEM " + quote_value(*m.system) + "\n";
  for (const auto& [name, value] : m.parameters.items()) {
    auto one = [&](const json& v) {
      out += "PARAMETER " + name + " " + (v.is_string() ? quote_value(v.get<std::string>()) : v.dump()) + "\n";
    };
    if (value.is_array())
      for (const auto& v : value) one(v);
    else
      one(value);
  }
  for (const auto& msg : m.messages) out += "MESSAGE " + msg.role + " " + quote_value(msg.content) + "\n";
  if (m.license) out += "LICENSE " + quote_value(*m.license) + "\n";
  return out;
}

}  // namespace nagare
