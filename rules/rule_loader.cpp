#include "rules/rule_loader.h"

#include <stdexcept>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rules/exceptions.h"
#include "rules/rule_check.h"
#include "rules/rule_files.h"

namespace scanwatch::rules {
namespace {

Finding error_finding(const RuleError& e) {
    Finding f;
    f.file = e.source;
    f.line = e.line;
    f.column = e.column;
    f.message = e.message;
    return f;
}

// Warnings for what loaded: exceptions naming a rule_id no rule has, then rules that cannot
// fire or read fields scanwatch never sets.
void add_warnings(LoadResult& out, const std::vector<RuleException>& exceptions,
                  const std::vector<bool>& in_folder) {
    for (const RuleException& e : exceptions) {
        if (e.rule_id.empty()) continue;
        bool found = false;
        for (const auto& rule : out.rules) found = found || rule->rule_id == e.rule_id;
        if (found) continue;
        Finding f;
        f.severity = Severity::warning;
        f.file = e.source;
        f.line = e.line;
        f.message = fmt::format("exception for rule_id \"{}\" applies to no loaded rule", e.rule_id);
        f.rule_id = e.rule_id;
        out.findings.push_back(std::move(f));
    }
    for (std::size_t i = 0; i < out.rules.size(); ++i) {
        const auto& rule = out.rules[i];
        const bool cannot = !can_fire(*rule);
        for (auto& w : rule_warnings(*rule)) {
            Finding f;
            f.severity = Severity::warning;
            f.file = rule->source;
            f.message = std::move(w);
            f.rule_id = rule->rule_id;
            f.rule_name = rule->name;
            f.kind = cannot ? FindingKind::cannot_fire : FindingKind::unfilled_fields;
            f.in_folder = i < in_folder.size() && in_folder[i];
            out.findings.push_back(std::move(f));
        }
    }
}

const char* severity_name(Severity s) {
    return s == Severity::error ? "error" : "warning";
}

}  // namespace

std::string Finding::to_string() const {
    if (!rule_name.empty() && line <= 0) return fmt::format("{} ({}): {}", rule_name, file, message);
    if (file.empty()) return message;
    if (line <= 0) return fmt::format("{}: {}", file, message);
    if (column <= 0) return fmt::format("{}:{}: {}", file, line, message);
    return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

bool LoadResult::ok() const {
    for (const Finding& f : findings) {
        if (f.severity == Severity::error) return false;
    }
    return true;
}

std::string LoadResult::as_string() const {
    std::string out;
    for (const Finding& f : findings) {
        out += fmt::format("{}: {}\n", severity_name(f.severity), f.to_string());
    }
    return out;
}

std::string LoadResult::as_json() const {
    nlohmann::json j;
    j["ok"] = ok();
    j["rules"] = nlohmann::json::array();
    for (const auto& rule : rules) {
        j["rules"].push_back({{"rule_id", rule->rule_id}, {"name", rule->name}, {"source", rule->source}});
    }
    j["findings"] = nlohmann::json::array();
    for (const Finding& f : findings) {
        j["findings"].push_back({{"severity", severity_name(f.severity)},
                                 {"file", f.file},
                                 {"line", f.line},
                                 {"column", f.column},
                                 {"message", f.message},
                                 {"rule_id", f.rule_id},
                                 {"rule_name", f.rule_name}});
    }
    // Rule files may hold invalid UTF-8; replace it rather than throw.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::shared_ptr<const RuleDefinition> builtin_rule(std::string_view text) {
    auto loaded = load_rule(text, "built-in");
    if (auto* err = std::get_if<RuleError>(&loaded)) {
        throw std::logic_error("built-in rule does not load: " + err->to_string());
    }
    return std::get<std::shared_ptr<const RuleDefinition>>(std::move(loaded));
}

LoadResult load_rule_sources(const RuleSources& sources) {
    LoadResult out;
    std::vector<bool> in_folder;
    if (sources.rules.empty()) {
        for (const std::string_view text : builtin_rule_texts()) {
            out.rules.push_back(builtin_rule(text));
        }
    } else {
        RuleSet set = load_rules(sources.rules);
        for (const auto& e : set.errors) out.findings.push_back(error_finding(e));
        for (const auto& e : set.skipped) {
            Finding f = error_finding(e);
            f.severity = Severity::warning;
            f.message = "skipped: " + f.message;
            f.kind = e.unsupported ? FindingKind::skipped_unsupported : FindingKind::skipped_broken;
            f.reason = e.kind;
            f.in_folder = true;
            out.findings.push_back(std::move(f));
        }
        for (std::size_t i = 0; i < set.disabled.size(); ++i) {
            const RuleDefinition& rule = *set.disabled[i];
            Finding f;
            f.severity = Severity::warning;
            f.file = rule.source;
            f.message = "skipped: enabled = false (Kibana does not run a disabled rule)";
            f.rule_id = rule.rule_id;
            f.rule_name = rule.name;
            f.kind = FindingKind::disabled;
            f.in_folder = set.disabled_in_folder[i];
            out.findings.push_back(std::move(f));
        }
        out.rules = std::move(set.rules);
        in_folder = std::move(set.in_folder);
        if (out.rules.empty() && out.findings.empty()) {
            Finding f;
            f.message = "no rules loaded";
            out.findings.push_back(std::move(f));
        }
    }
    std::vector<RuleException> exceptions;
    for (const auto& file : sources.exceptions) {
        ExceptionSet set = load_exceptions_file(file);
        for (const auto& e : set.errors) out.findings.push_back(error_finding(e));
        exceptions.insert(exceptions.end(), set.exceptions.begin(), set.exceptions.end());
    }
    out.rules = with_exec_alias(with_exceptions(out.rules, exceptions), sources.exec_action);
    add_warnings(out, exceptions, in_folder);
    return out;
}

LoadResult load_rule_text(std::string_view toml_text, std::string_view source) {
    LoadResult out;
    auto loaded = load_rule(toml_text, source);
    if (auto* error = std::get_if<RuleError>(&loaded)) {
        out.findings.push_back(error_finding(*error));
        return out;
    }
    out.rules.push_back(std::get<std::shared_ptr<const RuleDefinition>>(std::move(loaded)));
    add_warnings(out, {}, {});
    return out;
}

}  // namespace scanwatch::rules
