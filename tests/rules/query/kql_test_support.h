#pragma once
// Shared by tests/rules/kql_*_test.cpp: a field table, a map-backed event and parse helpers.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/query/query.h"

namespace kql_test {

using scanwatch::rules::FieldAccessor;
using scanwatch::rules::QueryError;
using scanwatch::rules::Query;

using Event = std::map<std::string, std::vector<std::string>>;

inline const std::vector<std::string>& field_table() {
    static const std::vector<std::string> fields = {
        "event.category", "host.os.type", "event.action", "event.type",    "process.name",
        "process.args",   "user.name",    "@timestamp",   "process.title", "file-path_x",
        "process.args_count",
    };
    return fields;
}

inline int resolve(std::string_view name) {
    const auto& fields = field_table();
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i] == name) return static_cast<int>(i);
    }
    return -1;
}

inline int id_of(std::string_view name) {
    const int id = resolve(name);
    REQUIRE(id >= 0);
    return id;
}

class MapAccessor final : public FieldAccessor {
public:
    explicit MapAccessor(const Event& event) : event_(event) {}

    bool any_value(int field_id,
                   const std::function<bool(std::string_view)>& visit) const override {
        const auto& fields = field_table();
        if (field_id < 0 || static_cast<std::size_t>(field_id) >= fields.size()) return false;
        const auto it = event_.find(fields[static_cast<std::size_t>(field_id)]);
        if (it == event_.end()) return false;
        for (const std::string& value : it->second) {
            if (visit(value)) return true;
        }
        return false;
    }

private:
    const Event& event_;
};

inline Query must_parse(std::string_view text) {
    auto result = Query::parse(text, resolve);
    if (const auto* error = std::get_if<QueryError>(&result)) {
        FAIL("parse of `" << text << "` failed at " << error->line << ":" << error->column << ": "
                          << error->message);
    }
    return std::get<Query>(std::move(result));
}

inline QueryError must_fail(std::string_view text) {
    auto result = Query::parse(text, resolve);
    if (const auto* query = std::get_if<Query>(&result)) {
        FAIL("`" << text << "` parsed as `" << query->to_string() << "`");
    }
    return std::get<QueryError>(std::move(result));
}

inline bool matches(std::string_view query, const Event& event) {
    return must_parse(query).matches(MapAccessor(event));
}

// A copy of `event` with `field` set to `values`.
inline Event with(Event event, const std::string& field, std::vector<std::string> values) {
    event[field] = std::move(values);
    return event;
}

inline constexpr std::string_view kSeedQuery =
    "event.category:process and host.os.type:linux and event.action:(exec or exec_event or "
    "executed or process_started) and\n"
    "event.type:start and process.name:(ping or nping or hping or hping2 or hping3 or nc or ncat "
    "or netcat or socat)\n";

inline const Event& ping_event() {
    static const Event event = {
        {"event.category", {"process"}}, {"host.os.type", {"linux"}},
        {"event.action", {"executed"}},  {"event.type", {"start"}},
        {"process.name", {"ping"}},      {"process.args", {"ping", "-c", "1", "10.0.0.7"}},
        {"user.name", {"alice"}},
    };
    return event;
}
}  // namespace kql_test
