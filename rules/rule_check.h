#pragma once
// Static checks and a readable explanation of a loaded rule, for `scanwatch rules check` and for
// the warnings the agent prints when it loads rules.

#include <string>
#include <vector>

#include "rules/rule.h"

namespace scanwatch::rules {

/// Why `rule` can never alert on scanwatch events (every event scanwatch makes is an exec:
/// event.category process, event.type start, event.action executed, host.os.type linux), one
/// sentence each; empty when it can fire as far as a static check tells. Reasons: a group-by or
/// cardinality field scanwatch never sets, a query no exec event can match, an exception that
/// matches every event.
std::vector<std::string> cannot_fire_reasons(const RuleDefinition& rule);

/// False when no scanwatch exec event can match `query` (a static check: event.category,
/// event.type, event.action, host.os.type and fields scanwatch never sets); engines skip it then.
bool query_may_match(const Query& query);
/// Whether `query` may match an exec event, and a network event (connect or socket), by the
/// same static check: a rule gets only the events it may match (agent/pipeline.cpp).
bool query_may_match_exec(const Query& query);
bool query_may_match_network(const Query& query);

/// True when cannot_fire_reasons() is empty.
bool can_fire(const RuleDefinition& rule);

/// What a person should know before running `rule`, one line each: every cannot_fire_reasons()
/// entry as "cannot fire on scanwatch events: ...", then fields the query reads that never have
/// a value here, and exceptions that can never match. Empty for a rule that is fine. Such rules
/// still load and run; they just stay silent.
std::vector<std::string> rule_warnings(const RuleDefinition& rule);

/// A multi-line explanation for a person (ends with a newline): name, rule_id, source, what the
/// query matches and which process names it requires, exceptions, group-by, threshold, window,
/// MITRE mapping, notes on fields that are not always set, and rule_warnings().
/// `session_grouping` (the hardened profile): say where auditd.session also groups.
std::string explain_rule(const RuleDefinition& rule, bool session_grouping = false);

}  // namespace scanwatch::rules
