// `nagare create NAME -f Modelfile`: a model in the local store from a Modelfile — FROM a stored
// model (its weights are shared, not copied) or a .gguf file (imported once), with SYSTEM,
// TEMPLATE, PARAMETER, MESSAGE and LICENSE on top.
#include <cstdio>

#include "cli/commands.h"
#include "cli/pull_progress.h"
#include "store/modelfile.h"
#include "store/model_store.h"

namespace nagare {

void add_create_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("create", "Create a model in the local store from a Modelfile");
  static std::string name;
  static std::string file = "Modelfile";
  cmd->add_option("name", name, "Name of the new model")->required();
  cmd->add_option("-f,--file", file, "The Modelfile (default: ./Modelfile)");
  cmd->callback([&action] {
    action = [] {
      ModelName n = ModelName::parse(name);  // before any file is read or written
      Modelfile mf = Modelfile::read(file);
      ModelStore store(ModelStore::default_root());
      Manifest m = store.create(n, mf);
      std::printf("created '%s' (ID %s)\n", n.display().c_str(), short_id(m.weights_digest).c_str());
      return 0;
    };
  });
}

}  // namespace nagare
