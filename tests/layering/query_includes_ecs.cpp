// Must not compile: rules/query knows nothing of ECS.
#include "parsers/ecs/ecs_event.h"
