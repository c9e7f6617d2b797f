// Each subcommand registers itself on the top-level CLI11 app; one file per subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace nagare {

// A registered subcommand's action, run after parsing; returns the process exit code.
using CommandAction = std::function<int()>;

void add_show_command(CLI::App& app, CommandAction& action);
void add_run_command(CLI::App& app, CommandAction& action);
void add_bench_model_command(CLI::App& app, CommandAction& action);
void add_serve_command(CLI::App& app, CommandAction& action);
void add_bench_command(CLI::App& app, CommandAction& action);

}  // namespace nagare
