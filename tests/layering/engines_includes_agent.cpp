// Must not compile: the engines do not know agent/.
#include "agent/settings.h"
