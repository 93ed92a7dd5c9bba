#include "rules/engines/group_table.h"

#include <algorithm>

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/engine_state.h"

namespace scanwatch::rules {
namespace {

bool cap_field(std::string& s) { return truncate_with_marker(s, limits::kFieldBytes); }

}  // namespace

using detail::hex;
using detail::hex_list;
using detail::unhex;
using detail::unhex_list;

void save_group_base(const GroupBase& g, nlohmann::json& out) {
    nlohmann::json terms = nlohmann::json::array();
    for (const auto& [field, value] : g.terms) terms.push_back({field, hex(value)});
    out["key"] = hex(g.key);
    out["terms"] = std::move(terms);
    out["last_ms"] = g.last_ms;
    out["spent_until"] = g.spent_until;
    out["sample_commands"] = hex_list(g.sample_commands);
    out["sample_values"] = hex_list(g.sample_values);
}

void restore_group_base(const nlohmann::json& j, const EngineOptions& options, GroupBase& g) {
    g.key = unhex(j.at("key").get<std::string>());
    if (g.key.empty()) throw std::invalid_argument("empty group key");
    for (const auto& t : j.at("terms")) {
        std::string value = unhex(t.at(1).get<std::string>());
        cap_field(value);
        g.terms.emplace_back(t.at(0).get<std::string>(), std::move(value));
    }
    g.last_ms = detail::get_int64(j.at("last_ms"));
    g.spent_until = detail::get_int64(j.at("spent_until"));
    g.sample_commands = unhex_list(j.at("sample_commands"));
    g.sample_values = unhex_list(j.at("sample_values"));
    // A state written with larger samples (another version or other options) is cut to today's.
    if (g.sample_commands.size() > options.sample_commands)
        g.sample_commands.resize(options.sample_commands);
    if (g.sample_values.size() > options.sample_values)
        g.sample_values.resize(options.sample_values);
    for (auto& s : g.sample_commands) truncate_with_marker(s, limits::kSampleCommandBytes);
    for (auto& s : g.sample_values) truncate_with_marker(s, limits::kSampleValueBytes);
}

}  // namespace scanwatch::rules
