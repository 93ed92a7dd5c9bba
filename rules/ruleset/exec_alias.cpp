#include "rules/ruleset/exec_alias.h"

#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

namespace scanwatch::rules {
namespace {

constexpr std::string_view kExecuted = "executed";

}  // namespace

const std::vector<std::string>& other_agent_exec_actions() {
    // Elastic Defend `exec`, Endgame `exec_event`, Sysmon for Linux and others `start`,
    // CrowdStrike FDR `ProcessRollup2`, Auditbeat's system module `process_started`.
    static const std::vector<std::string> names = {"exec", "exec_event", "start", "ProcessRollup2",
                                                   "process_started"};
    return names;
}

std::shared_ptr<const RuleDefinition> with_exec_alias(std::shared_ptr<const RuleDefinition> rule,
                                                      ExecAction mode) {
    if (mode != ExecAction::any || rule == nullptr) return rule;
    const int action = FieldCatalog::known_id("event.action");
    std::size_t added = 0;
    Query query = rule->query.with_alias(action, other_agent_exec_actions(), kExecuted, added);
    std::size_t total = added;
    std::vector<RuleException> exceptions = rule->exceptions;
    for (RuleException& e : exceptions) {
        e.query = e.query.with_alias(action, other_agent_exec_actions(), kExecuted, added);
        total += added;
    }
    // An EQL sequence's or sample's terms, each its own query.
    std::shared_ptr<EqlSequence> sequence;
    if (rule->eql_sequence) {
        sequence = std::make_shared<EqlSequence>(*rule->eql_sequence);
        for (EqlStage& stage : sequence->stages) {
            stage.query = stage.query.with_alias(action, other_agent_exec_actions(), kExecuted, added);
            total += added;
        }
        if (sequence->has_until) {
            sequence->until.query =
                sequence->until.query.with_alias(action, other_agent_exec_actions(), kExecuted, added);
            total += added;
        }
    }
    if (total == 0) return rule;
    auto copy = std::make_shared<RuleDefinition>(*rule);
    if (sequence) copy->eql_sequence = std::move(sequence);
    copy->query = std::move(query);
    copy->exceptions = std::move(exceptions);
    copy->exec_alias = true;
    // Equal fingerprint, equal behaviour: the alias changes what the rule matches.
    std::string material = rule->fingerprint;
    material += '\0';
    material += "exec-action any";
    const XXH128_hash_t h = XXH3_128bits(material.data(), material.size());
    copy->fingerprint = fmt::format("{:016x}{:016x}", h.high64, h.low64);
    return copy;
}

std::vector<std::shared_ptr<const RuleDefinition>> with_exec_alias(
    const std::vector<std::shared_ptr<const RuleDefinition>>& rules, ExecAction mode) {
    std::vector<std::shared_ptr<const RuleDefinition>> out;
    out.reserve(rules.size());
    for (const auto& rule : rules) out.push_back(with_exec_alias(rule, mode));
    return out;
}

}  // namespace scanwatch::rules
