// Must not compile: parsers/ecs depends on nothing else of the repository.
#include "parsers/process_table.h"
