// Must not compile: the engines do not know the rule index built over them.
#include "rules/index/rule_index.h"
