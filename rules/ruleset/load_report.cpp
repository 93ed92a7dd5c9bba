#include "rules/ruleset/load_report.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "rules/rule_check.h"

namespace scanwatch::rules {
namespace {

bool routine(const Finding& f) {
    if (!f.in_folder) return false;
    switch (f.kind) {
        case FindingKind::skipped_unsupported:
        case FindingKind::disabled:
        case FindingKind::cannot_fire:
        case FindingKind::unfilled_fields:
            return true;
        case FindingKind::other:
        case FindingKind::skipped_broken:
            return false;
    }
    return false;
}

// "80 eql: not supported, 60 type esql": most first, then by name.
std::string by_count(const std::map<std::string, std::size_t>& counts) {
    std::vector<std::pair<std::string, std::size_t>> list(counts.begin(), counts.end());
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    for (const auto& [reason, n] : list) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{} {}", n, reason);
    }
    return out;
}

}  // namespace

LoadReport load_report(const LoadResult& loaded, bool verbose) {
    LoadReport out;
    bool any_routine = false;
    std::map<std::string, std::size_t> skipped;
    std::size_t disabled = 0;
    std::set<std::string> unfilled_rules;
    for (const Finding& f : loaded.findings) {
        const bool counted = routine(f);
        any_routine = any_routine || counted;
        if (!counted || verbose) out.shown.push_back(f);
        switch (f.kind) {
            case FindingKind::skipped_unsupported:
            case FindingKind::skipped_broken:
                ++skipped[f.kind == FindingKind::skipped_broken && f.reason.empty() ? "do not load"
                                                                                    : f.reason];
                break;
            case FindingKind::disabled: ++disabled; break;
            case FindingKind::unfilled_fields: unfilled_rules.insert(f.rule_id); break;
            default: break;
        }
    }
    if (!any_routine) return out;
    const std::size_t cannot = static_cast<std::size_t>(std::count_if(
        loaded.rules.begin(), loaded.rules.end(), [](const auto& r) { return !can_fire(*r); }));
    std::size_t skipped_total = 0;
    for (const auto& [reason, n] : skipped) skipped_total += n;
    std::string line = fmt::format("rules: {} loaded, {} can fire on scanwatch events",
                                   loaded.rules.size(), loaded.rules.size() - cannot);
    if (!unfilled_rules.empty()) {
        line += fmt::format(" ({} of them read fields scanwatch never fills)", unfilled_rules.size());
    }
    line += fmt::format(", {} cannot", cannot);
    if (skipped_total > 0) {
        line += fmt::format("; {} file{} skipped ({})", skipped_total, skipped_total == 1 ? "" : "s",
                            by_count(skipped));
    }
    if (disabled > 0) line += fmt::format("; {} disabled (enabled = false)", disabled);
    line += "; `scanwatch rules check` on the same paths lists each";
    if (!verbose) line += " (--verbose prints them here)";
    out.summary = std::move(line);
    return out;
}

}  // namespace scanwatch::rules
