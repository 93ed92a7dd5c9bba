#include "agent/commands.h"

int main(int argc, char** argv) { return scanwatch::agent::run(argc, argv); }
