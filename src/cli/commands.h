// Each subcommand registers itself on the top-level CLI11 app; one file per subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace nagare {

// A registered subcommand's action, run after parsing; returns the process exit code.
using CommandAction = std::function<int()>;

void add_show_command(CLI::App& app, CommandAction& action);
void add_run_command(CLI::App& app, CommandAction& action);
void add_bench_model_command(CLI::App& app, CommandAction& action);
void add_serve_command(CLI::App& app, CommandAction& action);
void add_bench_command(CLI::App& app, CommandAction& action);
// A cache-aware load balancer in front of several servers (src/balancer).
void add_router_command(CLI::App& app, CommandAction& action);
// True when a MODEL argument names a file (it exists, is a path, or ends in .gguf) rather than a
// model in the local store; `show` and `run` take either.
bool is_file_argument(const std::string& arg);

// The local model store (src/store): pull, list, rm, cp, create.
void add_pull_command(CLI::App& app, CommandAction& action);
void add_list_command(CLI::App& app, CommandAction& action);
void add_rm_command(CLI::App& app, CommandAction& action);
void add_cp_command(CLI::App& app, CommandAction& action);
void add_create_command(CLI::App& app, CommandAction& action);
// What a running server has loaded (GET /api/ps).
void add_ps_command(CLI::App& app, CommandAction& action);
// A GGUF model in another quantization (src/quantize).
void add_quantize_command(CLI::App& app, CommandAction& action);
// The audit log a server writes.
void add_logs_command(CLI::App& app, CommandAction& action);
// Knowledge extraction (src/pipeline): the whole pipeline, a page fetched as Markdown, and the
// local document index its `local:` search provider reads.
void add_extract_command(CLI::App& app, CommandAction& action);
void add_fetch_command(CLI::App& app, CommandAction& action);
void add_index_command(CLI::App& app, CommandAction& action);

}  // namespace nagare
