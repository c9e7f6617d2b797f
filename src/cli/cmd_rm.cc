// `nagare rm NAME...`: removes models from the local store; weights no other name uses go too.
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "store/model_store.h"

namespace nagare {

void add_rm_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("rm", "Remove models from the local store");
  static std::vector<std::string> names;
  cmd->add_option("names", names, "Model names")->required();
  cmd->callback([&action] {
    action = [] {
      std::vector<ModelName> parsed;
      for (const auto& n : names) parsed.push_back(ModelName::parse(n));  // every name checked first
      ModelStore store(ModelStore::default_root());
      for (const auto& n : parsed) {
        store.remove(n);
        std::printf("deleted '%s'\n", n.display().c_str());
      }
      return 0;
    };
  });
}

}  // namespace nagare
