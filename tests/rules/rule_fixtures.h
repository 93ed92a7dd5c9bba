#pragma once
// Shared fixtures of the rule and engine tests: the built-in rule, loaded, and a ping exec event
// of the shape the built-in rule counts.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include <catch2/catch.hpp>

#include "parsers/ecs/ecs_event.h"
#include "rules/rule.h"

namespace scanwatch::test {

/// The built-in rule (rules/builtin/network_scan.toml), loaded; the test fails if it does not load.
inline std::shared_ptr<const rules::RuleDefinition> builtin() {
    auto r = rules::load_rule(rules::builtin_rule_text(), "built-in");
    REQUIRE(std::holds_alternative<std::shared_ptr<const rules::RuleDefinition>>(r));
    return std::get<std::shared_ptr<const rules::RuleDefinition>>(r);
}

/// `ping -c 1 TARGET` at `time_ms` on host h1 (host-one) as root, pid 1000 under pid 999, whose
/// parent's entity id is `parent`; `serial` is the audit event serial.
inline ProcessEvent ping(std::int64_t time_ms, const std::string& target, const std::string& parent = "P1",
                         std::uint64_t serial = 1) {
    ProcessEvent e;
    e.time_ms = time_ms;
    e.serial = serial;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.pid = 1000;
    e.ppid = 999;
    e.name = "ping";
    e.executable = "/usr/bin/ping";
    e.args = {"ping", "-c", "1", target};
    e.args_count = 4;
    e.entity_id = "E";
    e.parent_entity_id = parent;
    e.user.id = "0";
    return e;
}

}  // namespace scanwatch::test
