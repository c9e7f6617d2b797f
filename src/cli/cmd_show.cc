// `nagare show MODEL`: what a GGUF file holds — architecture, size, quantization, tokenizer,
// special tokens, chat template — read from its metadata and tensor index, without loading
// weights. MODEL is a file or a name in the local store; for a name, the store's entry (digest,
// source) and its manifest's overrides are shown too. Odd metadata (wrong types, ids out of
// range) is shown as found, never an error; only an unreadable file is.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/pull_progress.h"
#include "gguf/file_type.h"
#include "gguf/gguf_file.h"
#include "store/file_util.h"
#include "store/model_store.h"
#include "store/modelfile.h"

namespace nagare {
namespace {

// 4 significant digits with a K/M/B/T suffix: 134515008 -> "134.5M".
std::string human_count(uint64_t n) {
  static const char* kUnits[] = {"", "K", "M", "B", "T"};
  double x = double(n);
  int u = 0;
  while (x >= 1000 && u < 4) x /= 1000, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%" PRIu64, n);
  else std::snprintf(buf, sizeof buf, x >= 100 ? "%.1f%s" : x >= 10 ? "%.2f%s" : "%.3f%s", x, kUnits[u]);
  return buf;
}

class Report {
 public:
  void section(const std::string& title) {
    if (!out_.empty()) out_ += "\n";
    out_ += "  " + title + "\n";
  }
  void row(const std::string& label, const std::string& value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "    %-22s", label.c_str());
    out_ += buf + value + "\n";
  }
  void line(const std::string& text) { out_ += "    " + text + "\n"; }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// A metadata value for display: integers plain, arrays of integers as "a, b, ... (per layer)",
// anything else as the reader shows it; nullopt when the key is absent.
std::optional<std::string> show_value(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (v->type == GgufValueType::STRING) return v->as_string();
  if (v->is_float() && v->as_float() == std::floor(v->as_float()) && std::fabs(v->as_float()) < 1e15)
    return std::to_string(int64_t(v->as_float()));  // rope base 1000000, not 1e+06
  if (v->type == GgufValueType::ARRAY) {
    const GgufArray& a = v->as_array();
    if (!a.empty() && a[0].is_integer()) {
      size_t lo = 0, hi = 0;
      for (size_t i = 1; i < a.size(); ++i) {
        if (a.float_at(i) < a.float_at(lo)) lo = i;
        if (a.float_at(i) > a.float_at(hi)) hi = i;
      }
      if (a.float_at(lo) == a.float_at(hi)) return a[lo].to_display() + " (all " + std::to_string(a.size()) + " layers)";
      return a[lo].to_display() + " to " + a[hi].to_display() + " (per layer)";
    }
  }
  return v->to_display();
}

void add_model_section(Report& r, const GgufFile& f, const std::string& arch) {
  r.section("Model");
  r.row("architecture", arch.empty() ? "(unknown)" : arch);
  if (auto name = show_value(f, "general.name")) r.row("name", *name);
  uint64_t params = 0;
  for (const auto& t : f.tensors()) params += uint64_t(t.n_elements());
  r.row("parameters", human_count(params));
  auto row_if = [&](const std::string& label, const std::string& key) {
    if (auto v = show_value(f, key)) r.row(label, *v);
  };
  row_if("context length", arch + ".context_length");
  row_if("embedding length", arch + ".embedding_length");
  row_if("feed forward length", arch + ".feed_forward_length");
  row_if("layers", arch + ".block_count");
  if (auto heads = show_value(f, arch + ".attention.head_count")) {
    auto kv = show_value(f, arch + ".attention.head_count_kv");
    r.row("attention heads", *heads + (kv ? " (kv heads: " + *kv + ")" : ""));
  }
  row_if("head dimension", arch + ".attention.key_length");
  row_if("sliding window", arch + ".attention.sliding_window");
  if (auto experts = show_value(f, arch + ".expert_count")) {
    auto used = show_value(f, arch + ".expert_used_count");
    r.row("experts", *experts + (used ? " (" + *used + " used per token)" : ""));
  }
  row_if("rope freq base", arch + ".rope.freq_base");

  std::string quant;
  if (const GgufValue* ft = f.find("general.file_type")) {
    auto name = ft->is_integer() ? llama_file_type_name(ft->as_int()) : std::nullopt;
    quant = name ? std::string(*name) : "unknown (general.file_type = " + ft->to_display() + ")";
  } else {
    quant = "unknown (no general.file_type)";
  }
  r.row("quantization", quant);
  char file[96];
  std::snprintf(file, sizeof file, "%s, GGUF v%u, %zu tensors, %zu metadata keys", format_bytes(f.file_size()).c_str(),
                f.version(), f.tensors().size(), f.metadata().size());
  r.row("file", file);
}

void add_tensor_mix(Report& r, const GgufFile& f) {
  struct Mix {
    size_t count = 0;
    uint64_t bytes = 0, elements = 0;
  };
  std::map<std::string, Mix> mix;
  uint64_t total = 0;
  for (const auto& t : f.tensors()) {
    Mix& m = mix[std::string(ggml_type_name(t.type))];
    m.count++;
    m.bytes += t.nbytes;
    m.elements += uint64_t(t.n_elements());
    total += t.nbytes;
  }
  std::vector<std::pair<std::string, Mix>> rows(mix.begin(), mix.end());
  std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.bytes > b.second.bytes; });
  r.section("Tensor types");
  for (const auto& [name, m] : rows) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%-8s %5zu tensor%s %11s  %5.1f%%  %s params", name.c_str(), m.count,
                  m.count == 1 ? " " : "s", format_bytes(m.bytes).c_str(), total ? 100.0 * double(m.bytes) / double(total) : 0.0,
                  human_count(m.elements).c_str());
    r.line(buf);
  }
  if (rows.empty()) r.line("(no tensors)");
}

void add_tokenizer_section(Report& r, const GgufFile& f) {
  const GgufValue* tokens_v = f.find("tokenizer.ggml.tokens");
  const GgufArray* tokens = tokens_v && tokens_v->type == GgufValueType::ARRAY ? &tokens_v->as_array() : nullptr;
  auto model = show_value(f, "tokenizer.ggml.model");
  if (!tokens && !model) return;
  r.section("Tokenizer");
  std::string m = model ? *model : "(unknown)";
  if (auto pre = show_value(f, "tokenizer.ggml.pre")) m += " (pre-tokenizer: " + *pre + ")";
  r.row("model", m);
  r.row("vocabulary size", tokens ? std::to_string(tokens->size()) : "(no token list)");
  if (const GgufValue* merges = f.find("tokenizer.ggml.merges"); merges && merges->type == GgufValueType::ARRAY)
    r.row("merges", std::to_string(merges->as_array().size()));
  static const std::pair<const char*, const char*> kSpecial[] = {
      {"bos", "bos_token_id"},       {"eos", "eos_token_id"},           {"eot", "eot_token_id"},
      {"eom", "eom_token_id"},       {"unk", "unknown_token_id"},       {"sep", "seperator_token_id"},
      {"sep", "separator_token_id"}, {"pad", "padding_token_id"},       {"mask", "mask_token_id"},
  };
  for (auto [label, key] : kSpecial) {
    const GgufValue* v = f.find(std::string("tokenizer.ggml.") + key);
    if (!v) continue;
    std::string text;
    if (!v->is_integer()) {
      text = v->to_display() + " (not an integer)";
    } else {
      int64_t id = v->as_int();
      text = std::to_string(id);
      if (id < 0) text += " (none)";
      else if (!tokens || uint64_t(id) >= tokens->size()) text += " (out of range)";
      else text += " " + (*tokens)[size_t(id)].to_display();
    }
    r.row(std::string(label) + " token", text);
  }
  std::string add;
  for (const char* which : {"bos", "eos"}) {
    const GgufValue* v = f.find(std::string("tokenizer.ggml.add_") + which + "_token");
    if (v && v->type == GgufValueType::BOOL) add += std::string(add.empty() ? "" : ", ") + which + (v->as_bool() ? " yes" : " no");
  }
  if (!add.empty()) r.row("adds tokens", add);
}

constexpr size_t kTemplatePreviewLines = 30;

void add_text_lines(Report& r, const std::string& text, size_t max_lines, const std::string& more_hint) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (size_t i = 0; i < lines.size() && i < max_lines; ++i) r.line(lines[i]);
  if (lines.size() > max_lines)
    r.line("... (" + std::to_string(lines.size() - max_lines) + " more lines; " + more_hint + ")");
}

void add_template_section(Report& r, const GgufFile& f, const StoredModel* stored) {
  r.section("Chat template");
  if (stored && stored->manifest.template_text) {
    r.line("(from the model's Modelfile; replaces the GGUF's)");
    add_text_lines(r, *stored->manifest.template_text, kTemplatePreviewLines, "`nagare show --template` prints all of it");
    return;
  }
  const GgufValue* v = f.find("tokenizer.chat_template");
  if (!v || v->type != GgufValueType::STRING || v->as_string().empty()) {
    r.line(v ? "(unusable: " + v->to_display() + ")" : "(none)");
    return;
  }
  add_text_lines(r, v->as_string(), kTemplatePreviewLines, "`nagare show --template` prints all of it");
}

// The store's entry and what its manifest sets on top of the GGUF.
void add_store_sections(Report& r, const StoredModel& m) {
  const Manifest& mf = m.manifest;
  r.section("Store");
  r.row("name", m.name.display());
  r.row("ID", short_id(mf.weights_digest));
  r.row("weights", mf.weights_digest + " (" + format_bytes(mf.weights_size) + ")");
  if (!mf.source.empty()) r.row("source", mf.source);
  if (!mf.created.empty()) r.row("created", mf.created);
  if (!mf.parameters.empty()) {
    r.section("Parameters");
    for (const auto& [name, value] : mf.parameters.items()) {
      if (value.is_array())
        for (const auto& v : value) r.row(name, v.dump());
      else
        r.row(name, value.dump());
    }
  }
  if (mf.system) {
    r.section("System");
    add_text_lines(r, *mf.system, 20, "`nagare show --modelfile` prints all of it");
  }
  if (!mf.messages.empty()) {
    r.section("Messages");
    for (const auto& msg : mf.messages) {
      std::string first = msg.content.substr(0, msg.content.find('\n'));
      if (first.size() > 100) first = first.substr(0, 100) + "...";
      r.row(msg.role, first);
    }
  }
  if (mf.license) {
    r.section("License");
    add_text_lines(r, *mf.license, 5, "`nagare show --modelfile` prints all of it");
  }
}

void add_verbose_sections(Report& r, const GgufFile& f) {
  r.section("Metadata");
  size_t width = 0;
  for (const auto& k : f.metadata_order()) width = std::max(width, k.size());
  width = std::min<size_t>(width, 48);
  for (const auto& k : f.metadata_order()) {
    const GgufValue& v = *f.find(k);
    std::string type(gguf_value_type_name(v.type));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%-*s %-6s ", int(width), k.c_str(), type.c_str());
    r.line(std::string(buf) + v.to_display(8));
  }
  r.section("Tensors");
  width = 0;
  for (const auto& t : f.tensors()) width = std::max(width, t.name.size());
  width = std::min<size_t>(width, 48);
  for (const auto& t : f.tensors()) {
    std::string shape = "[";
    for (size_t i = 0; i < t.dims.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.dims[i]);
    shape += "]";
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-*s %-7s %-16s %11s  at %" PRIu64, int(width), t.name.c_str(),
                  std::string(ggml_type_name(t.type)).c_str(), shape.c_str(), format_bytes(t.nbytes).c_str(),
                  f.data_offset() + t.offset);
    r.line(buf);
  }
}

int run_show(const std::string& path, bool verbose, bool template_only, const StoredModel* stored) {
  auto f = GgufFile::open(path);
  if (template_only) {
    if (stored && stored->manifest.template_text) {
      const std::string& t = *stored->manifest.template_text;
      std::fwrite(t.data(), 1, t.size(), stdout);
      if (!t.empty() && t.back() != '\n') std::fputc('\n', stdout);
      return 0;
    }
    const GgufValue* v = f->find("tokenizer.chat_template");
    if (v && v->type == GgufValueType::STRING) {
      std::fwrite(v->as_string().data(), 1, v->as_string().size(), stdout);
      if (!v->as_string().empty() && v->as_string().back() != '\n') std::fputc('\n', stdout);
    }
    return 0;
  }
  std::string arch;
  if (const GgufValue* a = f->find("general.architecture"); a && a->type == GgufValueType::STRING) arch = a->as_string();
  Report r;
  add_model_section(r, *f, arch);
  add_tensor_mix(r, *f);
  add_tokenizer_section(r, *f);
  add_template_section(r, *f, stored);
  if (stored) add_store_sections(r, *stored);
  if (verbose) add_verbose_sections(r, *f);
  std::fwrite(r.str().data(), 1, r.str().size(), stdout);
  return 0;
}

}  // namespace

bool is_file_argument(const std::string& arg) {
  struct stat st {};
  if (::stat(arg.c_str(), &st) == 0) return true;
  std::string lower = arg;
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (lower.size() > 5 && lower.compare(lower.size() - 5, 5, ".gguf") == 0 && lower.rfind("hf.co/", 0) != 0 &&
      lower.rfind("huggingface.co/", 0) != 0 && lower.find("://") == std::string::npos)
    return true;
  return arg.rfind("/", 0) == 0 || arg.rfind("./", 0) == 0 || arg.rfind("../", 0) == 0;
}

void add_show_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("show", "Show a model's architecture, size, quantization, vocabulary and template");
  static std::string model;
  static bool verbose = false;
  static bool template_only = false;
  static bool modelfile = false;
  cmd->add_option("model", model, "Path to a .gguf file, or a model name in the local store")->required();
  cmd->add_flag("-v,--verbose", verbose, "Also list every metadata key and every tensor");
  cmd->add_flag("--template", template_only, "Print only the chat template, verbatim");
  cmd->add_flag("--modelfile", modelfile, "Print a Modelfile that recreates the model");
  cmd->callback([&action] {
    action = [] {
      if (is_file_argument(model)) {
        if (modelfile) {
          std::printf("FROM %s\n", model.c_str());
          return 0;
        }
        return run_show(model, verbose, template_only, nullptr);
      }
      ModelStore store(ModelStore::default_root());
      StoredModel m = store.resolve(model);
      if (modelfile) {
        std::string text = modelfile_text(m.manifest, m.name.display());
        std::fwrite(text.data(), 1, text.size(), stdout);
        return 0;
      }
      return run_show(m.weights_path, verbose, template_only, &m);
    };
  });
}

}  // namespace nagare
