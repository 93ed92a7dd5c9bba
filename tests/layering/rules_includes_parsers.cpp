// Must not compile: rules/ sees parsers/ecs only, not the audit parsers.
#include "parsers/record_filter.h"
