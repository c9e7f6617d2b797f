// nagare: the one binary; all behaviour lives in libnagare's cli layer.
#include "cli/cli.h"

int main(int argc, char** argv) { return nagare::cli_main(argc, argv); }
