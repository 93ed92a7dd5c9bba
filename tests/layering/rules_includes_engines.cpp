// Must not compile: rules/ (rule model, alerts) does not know the engines.
#include "rules/engines/engine.h"
