#pragma once
// Internal to rules/engines: a ProcessEvent as tail state JSON and back, for the events a
// partial EQL sequence holds (rules/engines/sequence/sequence_engine.h). Byte strings are hex.

#include <cstddef>

#include <nlohmann/json.hpp>

#include "parsers/ecs/ecs_event.h"

namespace scanwatch::rules::detail {

/// Every field of `event`, as a JSON object.
nlohmann::json event_to_state(const ProcessEvent& event);

/// About the bytes `event` holds: its struct and its strings' lengths (not their capacity).
std::size_t event_bytes(const ProcessEvent& event);

/// The event event_to_state() wrote; throws std::invalid_argument or nlohmann's errors on a
/// missing or damaged field (restore_state() catches them and starts empty).
ProcessEvent event_from_state(const nlohmann::json& state);

}  // namespace scanwatch::rules::detail
