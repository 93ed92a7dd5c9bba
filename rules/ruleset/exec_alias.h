#pragma once
// Other agents' exec action names (docs/rules.md, "event.action"). Elastic's rules written for
// Elastic Defend, Endgame, Sysmon, CrowdStrike or Auditbeat's system module test event.action for
// their own name of a process start (`exec`, `exec_event`, `start`, `ProcessRollup2`,
// `process_started`); scanwatch's exec events say `executed`, as Auditbeat's auditd module does.
// With the alias on, such a test also accepts `executed`, rewritten in the rule's AST when it
// loads, so `rules check` prints what runs and an index on event.action literals sees it.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/ecs/enum_names.h"
#include "rules/rule.h"

namespace scanwatch::rules {

/// Which event.action values a rule's exec test accepts on scanwatch's exec events.
enum class ExecAction {
    /// `executed`, and also where the rule names another agent's exec action (the hardened
    /// profile's default)
    any,
    /// `executed` only: Elastic's exact behaviour on auditd data (the elastic profile's default)
    executed,
};

/// The names of ExecAction.
inline constexpr EnumName<ExecAction> kExecActionNames[] = {{"any", ExecAction::any},
                                                           {"executed", ExecAction::executed}};

/// The exec action names of other agents that the alias maps to `executed`, from a survey of
/// Elastic's detection-rules (rules/linux, rules/cross-platform, Linux building blocks).
const std::vector<std::string>& other_agent_exec_actions();

/// `rule` with the alias applied to its query and exceptions (RuleDefinition::exec_alias set,
/// fingerprint changed) when `mode` is any and a test gained `executed`; otherwise `rule` itself.
std::shared_ptr<const RuleDefinition> with_exec_alias(std::shared_ptr<const RuleDefinition> rule,
                                                      ExecAction mode);

/// with_exec_alias() of each rule, in order.
std::vector<std::shared_ptr<const RuleDefinition>> with_exec_alias(
    const std::vector<std::shared_ptr<const RuleDefinition>>& rules, ExecAction mode);

}  // namespace scanwatch::rules
