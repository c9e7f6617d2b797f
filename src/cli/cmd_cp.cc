// `nagare cp SOURCE DESTINATION`: gives a stored model a second name (the weights are shared).
#include <cstdio>

#include "cli/commands.h"
#include "store/model_store.h"

namespace nagare {

void add_cp_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("cp", "Copy a model in the local store to a new name (no weight copy)");
  static std::string from, to;
  cmd->add_option("source", from, "Existing model name")->required();
  cmd->add_option("destination", to, "New model name")->required();
  cmd->callback([&action] {
    action = [] {
      ModelName a = ModelName::parse(from), b = ModelName::parse(to);
      ModelStore store(ModelStore::default_root());
      store.copy(a, b);
      std::printf("copied '%s' to '%s'\n", a.display().c_str(), b.display().c_str());
      return 0;
    };
  });
}

}  // namespace nagare
