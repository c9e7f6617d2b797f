// Entry point of the `nagare` binary: parses the subcommand and runs it.
#pragma once

namespace nagare {
int cli_main(int argc, char** argv);
}
