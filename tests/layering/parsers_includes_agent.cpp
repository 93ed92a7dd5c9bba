// Must not compile: parsers/ does not know agent/.
#include "agent/pipeline.h"
