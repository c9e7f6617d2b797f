// `nagare pull SOURCE`: fetches a model into the local store from Hugging Face
// (hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf) or an http(s) URL of a GGUF file.
#include "cli/commands.h"
#include "cli/pull_progress.h"
#include "store/model_store.h"

namespace nagare {

void add_pull_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("pull", "Download a model into the local store (NAGARE_MODELS)");
  static std::string source;
  cmd->add_option("source", source, "hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf or an http(s) URL")
      ->required();
  cmd->footer(
      "QUANT picks the GGUF file whose name carries it (default Q4_K_M, else the repository's only GGUF).\n"
      "HF_ENDPOINT replaces https://huggingface.co; HF_TOKEN is sent for gated or private repositories.\n"
      "An interrupted pull resumes where it stopped when run again.");
  cmd->callback([&action] {
    action = [] {
      ModelStore store(ModelStore::default_root());
      pull_with_progress(store, source);
      return 0;
    };
  });
}

}  // namespace nagare
