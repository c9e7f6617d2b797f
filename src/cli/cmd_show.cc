// `nagare show MODEL`: what a GGUF file holds, without loading the weights.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "gguf/gguf_file.h"

namespace nagare {

void add_show_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("show", "Show a model's architecture, size, quantization, vocabulary and template");
  static std::string model;
  cmd->add_option("model", model, "Path to a .gguf file")->required();
  cmd->callback([&action] {
    action = [] {
      auto f = GgufFile::open(model);
      std::string arch = f->get_string("general.architecture", "unknown");
      int64_t params = 0;
      std::map<std::string, int64_t> quant_mix;
      for (auto& t : f->tensors()) {
        params += t.n_elements();
        quant_mix[std::string(ggml_type_name(t.type))]++;
      }
      std::printf("  architecture        %s\n", arch.c_str());
      std::printf("  name                %s\n", f->get_string("general.name", "").c_str());
      std::printf("  parameters          %.2fM\n", params / 1e6);
      std::printf("  context length      %lld\n", (long long)f->get_int(arch + ".context_length", 0));
      std::printf("  embedding length    %lld\n", (long long)f->get_int(arch + ".embedding_length", 0));
      std::printf("  layers              %lld\n", (long long)f->get_int(arch + ".block_count", 0));
      std::printf("  file type           %lld\n", (long long)f->get_int("general.file_type", -1));
      std::printf("  quantization mix   ");
      for (auto& [name, n] : quant_mix) std::printf(" %s:%lld", name.c_str(), (long long)n);
      std::printf("\n");
      if (auto* tokens = f->find("tokenizer.ggml.tokens"))
        std::printf("  vocabulary size     %zu (%s)\n", tokens->as_array().items.size(),
                    f->get_string("tokenizer.ggml.model", "?").c_str());
      for (const char* key : {"bos", "eos", "eot", "unknown", "padding"}) {
        std::string k = std::string("tokenizer.ggml.") + key + "_token_id";
        if (f->has(k)) std::printf("  %-19s %lld\n", (std::string(key) + " token").c_str(), (long long)f->get_int(k));
      }
      std::string tmpl = f->get_string("tokenizer.chat_template", "");
      std::printf("  chat template       %s\n", tmpl.empty() ? "(none)" : "");
      if (!tmpl.empty()) std::printf("%s\n", tmpl.c_str());
      return 0;
    };
  });
}

}  // namespace nagare
