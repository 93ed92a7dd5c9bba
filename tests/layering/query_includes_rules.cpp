// Must not compile: rules/query knows nothing of ECS fields or rules.
#include "rules/event_fields.h"
