// Must not compile: the rule index does not know agent/.
#include "agent/settings.h"
