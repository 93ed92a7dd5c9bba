#pragma once
// The ECS document of a process event (docs/events.md), as one NDJSON line.

#include <string>

#include "parsers/ecs/ecs_event.h"

namespace scanwatch {

/// Appends the event as one JSON object (no newline) to `out`. Nested ECS objects; strings
/// escaped as JsonWriter documents.
void append_event_json(std::string& out, const ProcessEvent& event);

}  // namespace scanwatch
