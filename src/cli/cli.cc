// Top-level argument parsing; errors become one line on stderr and a non-zero exit.
#include "cli/cli.h"

#include <cstdio>

#include "cli/commands.h"
#include "util/error.h"

namespace nagare {

int cli_main(int argc, char** argv) {
  CLI::App app{"nagare: run and serve LLMs locally"};
  app.require_subcommand(1);
  CommandAction action;
  add_show_command(app, action);
  add_run_command(app, action);
  add_bench_model_command(app, action);
  add_serve_command(app, action);
  add_bench_command(app, action);
  add_router_command(app, action);
  add_pull_command(app, action);
  add_list_command(app, action);
  add_rm_command(app, action);
  add_cp_command(app, action);
  add_create_command(app, action);
  add_ps_command(app, action);
  add_logs_command(app, action);
  add_quantize_command(app, action);
  add_extract_command(app, action);
  add_fetch_command(app, action);
  add_index_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace nagare
