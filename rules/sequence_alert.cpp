// Kibana's alerts for an EQL sequence or sample (docs/alerts.md, "EQL sequence alerts"): one
// building-block alert per event, an event alert with kibana.alert.building_block_type
// "default", kibana.alert.group.id and kibana.alert.group.index, and one shell alert holding the
// fields all building blocks have in common (Kibana's objectPairIntersection), depth 2, whose
// ancestors are the events and the building blocks.

#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "parsers/ecs/ecs_json.h"
#include "parsers/ecs/json_writer.h"
#include "rules/alert.h"

namespace scanwatch::rules {
namespace {

using Json = nlohmann::ordered_json;

std::string building_block_json(const Alert& alert, std::int64_t created_ms) {
    Alert plain = alert;
    plain.group = nullptr;
    std::string out = event_alert_to_json(plain, created_ms);
    // The event's own keys never hold this text unescaped: the writer escapes quotes in values.
    constexpr std::string_view kUuid = R"(,"kibana.alert.uuid":)";
    const auto at = out.find(kUuid);
    if (at == std::string::npos) return out;
    std::string extra;
    JsonWriter w(extra);
    w.begin_object();
    w.field("kibana.alert.building_block_type", "default");
    w.field("kibana.alert.group.id", alert.group->id);
    w.field("kibana.alert.group.index", static_cast<std::int64_t>(alert.group_index));
    w.end_object();
    // `{...}` to `,...`: the writer separated the keys; drop its braces.
    extra.front() = ',';
    extra.pop_back();
    out.insert(at, extra);
    return out;
}

// The fields of `a` that `b` has with the same value; objects are intersected field by field.
Json intersect(const Json& a, const Json& b) {
    if (!a.is_object() || !b.is_object()) return a == b ? a : Json();
    Json out = Json::object();
    for (auto it = a.begin(); it != a.end(); ++it) {
        const auto other = b.find(it.key());
        if (other == b.end()) continue;
        Json common = intersect(it.value(), *other);
        if (common.is_null() || (common.is_object() && common.empty() && !it.value().empty())) {
            continue;
        }
        out[it.key()] = std::move(common);
    }
    return out;
}

std::string_view category_of(const ProcessEvent& e) {
    return e.kind == EventKind::exec ? "process" : "network";
}

std::string shell_reason(const Alert& alert) {
    const auto& events = alert.group->events;
    std::string steps;
    for (const auto& e : events) {
        if (!steps.empty()) steps += ", then ";
        steps += fmt::format("{} {}", category_of(*e), e->name.empty() ? "?" : e->name);
    }
    const ProcessEvent& last = *events.back();
    std::string out = fmt::format("{} of {} events ({})", alert.rule->eql_category, events.size(),
                                  steps);
    if (!last.user.name.empty()) out += fmt::format(", by {}", last.user.name);
    if (!last.host_name.empty()) out += fmt::format(" on {}", last.host_name);
    out += fmt::format(" created {} alert {}.", alert.rule->severity, alert.rule->name);
    return out;
}

std::string shell_json(const Alert& alert, std::int64_t created_ms) {
    const auto& events = alert.group->events;
    Json merged;
    Json ancestors = Json::array();
    std::vector<Json> blocks;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Alert bb = sequence_building_block(alert, i);
        Json doc = Json::parse(building_block_json(bb, created_ms), nullptr, false);
        if (doc.is_discarded()) doc = Json::object();
        merged = i == 0 ? doc : intersect(merged, doc);
        ancestors.push_back(Json{{"id", events[i]->event_id()},
                                 {"type", "event"},
                                 {"index", "scanwatch"},
                                 {"depth", 0}});
        ancestors.push_back(
            Json{{"id", bb.uuid}, {"type", "signal"}, {"index", "scanwatch"}, {"depth", 1}});
    }
    if (!merged.is_object()) merged = Json::object();
    merged.erase("kibana.alert.building_block_type");
    merged.erase("kibana.alert.group.index");
    merged.erase("scanwatch");
    merged["@timestamp"] = format_timestamp(alert.time_ms);
    merged["event"]["kind"] = "signal";
    merged["event"]["created"] = format_timestamp(created_ms);
    merged["kibana.alert.uuid"] = alert.uuid;
    merged["kibana.alert.group.id"] = alert.group->id;
    merged["kibana.alert.depth"] = 2;
    merged["kibana.alert.ancestors"] = std::move(ancestors);
    merged["kibana.alert.original_time"] = format_timestamp(events.front()->time_ms);
    merged["kibana.alert.reason"] = shell_reason(alert);
    Json evidence = Json::object();
    evidence["first_event"] = Json{{"id", events.front()->event_id()},
                                   {"time", format_timestamp(events.front()->time_ms)}};
    evidence["last_event"] = Json{{"id", events.back()->event_id()},
                                  {"time", format_timestamp(events.back()->time_ms)}};
    merged["scanwatch"] = Json{{"evidence", std::move(evidence)}, {"rule_source", alert.rule->source}};
    return merged.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

Alert sequence_building_block(const Alert& shell, std::size_t index) {
    Alert a = shell;
    a.group_index = static_cast<int>(index);
    a.event = shell.group->events[index];
    a.time_ms = a.event->time_ms;
    a.from_ms = a.time_ms;
    a.evidence.last_event = EventRef{a.event->event_id(), a.event->time_ms};
    const std::string material = fmt::format("{}\0{}", shell.uuid, index);
    const XXH128_hash_t h = XXH3_128bits(material.data(), material.size());
    a.uuid = fmt::format("{:016x}{:016x}", h.high64, h.low64);
    return a;
}

std::string sequence_alert_to_json(const Alert& alert, std::int64_t created_ms) {
    if (alert.group_index >= 0) return building_block_json(alert, created_ms);
    return shell_json(alert, created_ms);
}

}  // namespace scanwatch::rules
