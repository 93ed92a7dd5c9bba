// Must not compile: parsers/ does not know rules/.
#include "rules/rule.h"
