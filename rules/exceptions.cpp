#include "rules/exceptions.h"

#include <algorithm>

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/rule_toml.h"

namespace scanwatch::rules {

ExceptionSet load_exceptions(std::string_view toml_text, std::string_view source) {
    ExceptionSet out;
    toml::table doc;
    if (auto syntax = detail::parse_toml(toml_text, source, doc)) {
        out.errors.push_back(std::move(*syntax));
        return out;
    }
    for (const auto& [key, value] : doc) {
        const detail::Place at = detail::place_of(value);
        if (key.str() != "exception") {
            out.errors.push_back(detail::error_at(
                source, at,
                fmt::format("unknown key \"{}\"; an exceptions file holds [[exception]] tables",
                            key.str())));
            continue;
        }
        const toml::array* list = value.as_array();
        if (list == nullptr) {
            out.errors.push_back(detail::error_at(
                source, at, "exception must be [[exception]] tables (an array of tables)"));
            continue;
        }
        for (const auto& entry : *list) {
            auto read = detail::read_exception(entry, toml_text, source, "exception", true);
            if (auto* e = std::get_if<RuleError>(&read)) {
                out.errors.push_back(std::move(*e));
            } else {
                out.exceptions.push_back(std::get<RuleException>(std::move(read)));
            }
        }
    }
    // toml++ tables iterate in key order, not file order; errors read best top to bottom.
    std::stable_sort(out.errors.begin(), out.errors.end(),
                     [](const RuleError& a, const RuleError& b) {
                         return a.line != b.line ? a.line < b.line : a.column < b.column;
                     });
    return out;
}

ExceptionSet load_exceptions_file(const std::string& path) {
    std::string text;
    if (auto error = detail::read_text_file(path, text)) {
        ExceptionSet out;
        out.errors.push_back(std::move(*error));
        return out;
    }
    return load_exceptions(text, path);
}

std::vector<std::shared_ptr<const RuleDefinition>> with_exceptions(
    const std::vector<std::shared_ptr<const RuleDefinition>>& rules,
    const std::vector<RuleException>& exceptions) {
    std::vector<std::shared_ptr<const RuleDefinition>> out;
    out.reserve(rules.size());
    for (const auto& rule : rules) {
        std::vector<const RuleException*> applies;
        for (const RuleException& e : exceptions) {
            if (e.rule_id.empty() || e.rule_id == rule->rule_id) applies.push_back(&e);
        }
        if (applies.empty()) {
            out.push_back(rule);
            continue;
        }
        auto copy = std::make_shared<RuleDefinition>(*rule);
        // Only what changes behaviour goes into the hash: the queries, in order.
        std::string material = rule->fingerprint;
        for (const RuleException* e : applies) {
            copy->exceptions.push_back(*e);
            material += '\0';
            material += e->query_text;
        }
        const XXH128_hash_t h = XXH3_128bits(material.data(), material.size());
        copy->fingerprint = fmt::format("{:016x}{:016x}", h.high64, h.low64);
        out.push_back(std::move(copy));
    }
    return out;
}

std::vector<std::string> exception_warnings(
    const std::vector<std::shared_ptr<const RuleDefinition>>& rules,
    const std::vector<RuleException>& exceptions) {
    std::vector<std::string> out;
    for (const RuleException& e : exceptions) {
        if (e.rule_id.empty()) continue;
        bool found = false;
        for (const auto& rule : rules) found = found || rule->rule_id == e.rule_id;
        if (!found) {
            out.push_back(fmt::format("{}: exception for rule_id \"{}\" applies to no loaded rule",
                                      e.place(), e.rule_id));
        }
    }
    return out;
}

}  // namespace scanwatch::rules
