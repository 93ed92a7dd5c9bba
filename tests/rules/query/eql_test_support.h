#pragma once
// Shared by tests/rules/eql_*_test.cpp: a field table, a map-backed event and parse helpers.

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/query/eql/eql.h"

namespace eql_test {

using Event = std::map<std::string, std::vector<std::string>>;

inline const std::vector<std::string>& field_table() {
    static const std::vector<std::string> fields = {
        "process.name",   "process.args",         "process.executable", "process.command_line",
        "source.ip",      "process.args_count",   "process.parent.name", "user.id",
        "event.category", "process.working_directory",
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

class MapAccessor final : public scanwatch::rules::FieldAccessor {
public:
    explicit MapAccessor(const Event& event) : event_(event) {}

    bool any_value(int field_id,
                   const std::function<bool(std::string_view)>& visit) const override {
        const auto& fields = field_table();
        REQUIRE(field_id >= 0);  // the matcher never asks for an unknown ?field
        const auto it = event_.find(fields.at(static_cast<std::size_t>(field_id)));
        if (it == event_.end()) return false;
        for (const std::string& value : it->second) {
            if (visit(value)) return true;
        }
        return false;
    }

private:
    const Event& event_;
};

inline scanwatch::rules::EqlQuery must_parse(std::string_view text) {
    auto result = scanwatch::rules::parse_eql(text, resolve);
    if (const auto* error = std::get_if<scanwatch::rules::QueryError>(&result)) {
        FAIL("parse of `" << text << "` failed at " << error->line << ":" << error->column << ": "
                          << error->message);
    }
    return std::get<scanwatch::rules::EqlQuery>(std::move(result));
}

inline scanwatch::rules::QueryError must_fail(std::string_view text) {
    auto result = scanwatch::rules::parse_eql(text, resolve);
    if (const auto* query = std::get_if<scanwatch::rules::EqlQuery>(&result)) {
        FAIL("`" << text << "` parsed as `" << query->query.to_string() << "`");
    }
    return std::get<scanwatch::rules::QueryError>(std::move(result));
}

/// True when `condition` (after "process where ") matches `event`; also checks that the printed
/// query parses again and gives the same verdict.
inline bool matches(std::string_view condition, const Event& event) {
    const std::string text = "process where " + std::string(condition);
    const auto query = must_parse(text);
    const bool verdict = query.query.matches(MapAccessor(event));
    const std::string printed = "process where " + query.query.to_string();
    INFO("printed: " << printed);
    const auto again = must_parse(printed);
    CHECK(again.query.to_string() == query.query.to_string());
    CHECK(again.query.matches(MapAccessor(event)) == verdict);
    return verdict;
}

}  // namespace eql_test
