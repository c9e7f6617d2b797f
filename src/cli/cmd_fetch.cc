// Placeholder until the command lands.
#include "cli/commands.h"
namespace nagare {
void add_fetch_command(CLI::App&, CommandAction&) {}
}  // namespace nagare
