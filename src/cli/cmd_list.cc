// `nagare list`: the models in the local store — NAME, ID (digest prefix), SIZE, MODIFIED — most
// recently written first, as `ollama list` shows them.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/pull_progress.h"
#include "store/file_util.h"
#include "store/model_store.h"

namespace nagare {

void add_list_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("list", "List the models in the local store (NAGARE_MODELS)");
  cmd->alias("ls");
  cmd->callback([&action] {
    action = [] {
      ModelStore store(ModelStore::default_root());
      std::vector<std::string> problems;
      auto models = store.list(&problems);
      for (const auto& p : problems) std::fprintf(stderr, "warning: %s\n", p.c_str());
      size_t width = 4;
      for (const auto& m : models) width = std::max(width, m.name.display().size());
      std::printf("%-*s  %-12s  %-9s  %s\n", int(width), "NAME", "ID", "SIZE", "MODIFIED");
      for (const auto& m : models)
        std::printf("%-*s  %-12s  %-9s  %s\n", int(width), m.name.display().c_str(),
                    short_id(m.manifest.weights_digest).c_str(), format_bytes(m.manifest.weights_size).c_str(),
                    time_ago(m.modified_unix).c_str());
      return 0;
    };
  });
}

}  // namespace nagare
