// The hardened grouping of execs without a login session (docs/detection.md, "Profiles and
// grouping"): the parent's parent, or the user where the parent is an untraced fork.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/alert.h"
#include "rules/engines/group_by.h"
#include "rules/engines/scheduled_engine.h"
#include "rules/engines/threshold_engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr const char* kUnset = "4294967295";

// A ping without a session whose parent is `parent` (a per-target wrapper when it changes per
// target) and whose parent's parent is `grandparent` (empty: unknown).
ProcessEvent ping(int i, const std::string& parent, const std::string& grandparent,
                  bool untraced = false, const std::string& session = kUnset) {
    ProcessEvent e;
    e.time_ms = kT0 + i * 1000;
    e.serial = static_cast<std::uint64_t>(i);
    e.host_id = "h1";
    e.host_name = "host-one";
    e.pid = 2000 + i;
    e.ppid = 1000 + i;
    e.name = "ping";
    e.executable = "/usr/bin/ping";
    e.args = {"ping", "-c", "1", "10.0.0." + std::to_string(i)};
    e.args_count = 4;
    e.entity_id = "E" + std::to_string(i);
    e.parent_entity_id = parent;
    e.parent_executable = "/usr/bin/timeout";
    e.grandparent_entity_id = grandparent;
    if (!grandparent.empty()) {
        e.grandparent_pid = 999;
        e.grandparent_executable = "/usr/bin/bash";
    }
    e.parent_untraced = untraced;
    e.user.id = "33";
    e.user.name = "www-data";
    e.audit_user.id = kUnset;
    e.session = session;
    return e;
}

EngineOptions profile(bool hardened) {
    EngineOptions o;
    o.session_grouping = hardened;
    return o;
}

std::vector<Alert> run(ThresholdEngine& rule, const std::vector<ProcessEvent>& events) {
    std::vector<Alert> alerts;
    for (const auto& e : events) rule.process(e, alerts);
    return alerts;
}

std::string term_of(const Alert& a, const std::string& field) {
    for (const auto& [f, v] : a.terms) {
        if (f == field) return v;
    }
    return {};
}

}  // namespace

TEST_CASE("Lineage: a wrapped sweep without a session alerts once, grouped on the parents' parent",
          "[threshold][lineage]") {
    std::vector<ProcessEvent> events;
    for (int i = 0; i < 110; ++i) events.push_back(ping(i, "W" + std::to_string(i), "LOOP"));
    ThresholdEngine hardened(builtin(), profile(true));
    const auto alerts = run(hardened, events);
    REQUIRE(alerts.size() == 1);
    const Alert& a = alerts[0];
    CHECK(a.terms == std::vector<std::pair<std::string, std::string>>{
                         {"host.id", "h1"},
                         {"process.parent.parent.entity_id", "LOOP"},
                         {"process.executable", "/usr/bin/ping"}});
    CHECK(a.cardinality == 100);
    CHECK(hardened.counters().alerts_hardening_only == 1);
    CHECK_THAT(alert_reason(a),
               Catch::Contains("under the parents' parent /usr/bin/bash (pid 999), no login "
                               "session (last under parent /usr/bin/timeout (pid 1096))"));
    const std::string json = alert_to_json(a, kT0);
    CHECK_THAT(json, Catch::Contains(R"("parent":{"pid":1096,"executable":"/usr/bin/timeout",)"
                                     R"("parent":{"entity_id":"LOOP","pid":999,)"
                                     R"("executable":"/usr/bin/bash"}})"));
    CHECK_THAT(json, Catch::Contains(
                         R"({"field":"process.parent.parent.entity_id","value":"LOOP"})"));

    ThresholdEngine elastic(builtin(), profile(false));
    CHECK(run(elastic, events).empty());
}

TEST_CASE("Lineage: a plain sessionless sweep alerts once, as Elastic's grouping does",
          "[threshold][lineage]") {
    std::vector<ProcessEvent> events;
    for (int i = 0; i < 110; ++i) events.push_back(ping(i, "LOOP", "SERVICE"));
    ThresholdEngine hardened(builtin(), profile(true));
    const auto alerts = run(hardened, events);
    REQUIRE(alerts.size() == 1);  // the parent's group alerts, the lineage group is spent with it
    CHECK(term_of(alerts[0], "process.parent.entity_id") == "LOOP");
    CHECK(hardened.counters().alerts_hardening_only == 0);
    CHECK_THAT(alert_reason(alerts[0]), Catch::Contains("under parent /usr/bin/timeout (pid 1096)"));
}

TEST_CASE("Lineage: forks that cannot be traced group by user", "[threshold][lineage]") {
    std::vector<ProcessEvent> events;
    for (int i = 0; i < 110; ++i) events.push_back(ping(i, "F" + std::to_string(i), "", true));
    ThresholdEngine hardened(builtin(), profile(true));
    const auto alerts = run(hardened, events);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].terms == std::vector<std::pair<std::string, std::string>>{
                                 {"host.id", "h1"}, {"user.id", "33"},
                                 {"process.executable", "/usr/bin/ping"}});
    CHECK_THAT(alert_reason(alerts[0]), Catch::Contains("grouped by user"));
    CHECK_THAT(alert_to_json(alerts[0], kT0), Catch::Contains(R"("user":{"id":"33")"));

    // Known parents whose ancestry is unknown (a service's long-lived workers): no lineage.
    std::vector<ProcessEvent> known;
    for (int i = 0; i < 110; ++i) known.push_back(ping(i, "F" + std::to_string(i), "", false));
    ThresholdEngine quiet(builtin(), profile(true));
    CHECK(run(quiet, known).empty());
}

TEST_CASE("Lineage: a login session comes first, and names itself in the alert",
          "[threshold][lineage]") {
    std::vector<ProcessEvent> events;
    for (int i = 0; i < 110; ++i) events.push_back(ping(i, "W" + std::to_string(i), "", false, "15"));
    ThresholdEngine hardened(builtin(), profile(true));
    const auto alerts = run(hardened, events);
    REQUIRE(alerts.size() == 1);
    CHECK(term_of(alerts[0], "auditd.session") == "15");
    CHECK_THAT(alert_reason(alerts[0]),
               Catch::Contains("in audit session 15 (last under parent /usr/bin/timeout"));
    CHECK_THAT(alert_to_json(alerts[0], kT0), Catch::Contains(R"("auditd":{"session":"15"})"));
    // The session wins over a grandparent the event might also carry.
    const auto rule = builtin();  // GroupBy keeps a reference to it
    GroupBy g(*rule, true);
    std::string scratch;
    const ProcessEvent both = ping(1, "W", "LOOP", true, "15");
    CHECK(g.lineage(EventFields(both, NameMatch::any), scratch) == GroupBy::Lineage::session);
    const ProcessEvent gp = ping(1, "W", "LOOP", true);
    CHECK(g.lineage(EventFields(gp, NameMatch::any), scratch) == GroupBy::Lineage::grandparent);
    GroupBy elastic(*rule, false);
    CHECK(elastic.lineage(EventFields(gp, NameMatch::any), scratch) == GroupBy::Lineage::none);
}

TEST_CASE("Lineage: the three lineages never share a group", "[threshold][lineage]") {
    const auto rule = builtin();
    GroupBy g(*rule, true);
    std::string scratch;
    std::string k_session, k_gp, k_user;
    // The same text as a session number, an entity id and a uid.
    ProcessEvent s = ping(1, "W", "", false, "33");
    ProcessEvent p = ping(1, "W", "33");
    ProcessEvent u = ping(1, "W", "", true);
    REQUIRE(g.key(1, EventFields(s, NameMatch::any), k_session, scratch));
    REQUIRE(g.key(1, EventFields(p, NameMatch::any), k_gp, scratch));
    REQUIRE(g.key(1, EventFields(u, NameMatch::any), k_user, scratch));
    CHECK(k_session != k_gp);
    CHECK(k_gp != k_user);
    CHECK(k_session != k_user);
}

TEST_CASE("Lineage: scheduled evaluation groups a sessionless wrapped sweep on the parents' parent",
          "[scheduled][lineage]") {
    EngineOptions o;
    o.evaluation = Evaluation::scheduled;
    ScheduledEngine scheduled(builtin(), o);
    std::vector<Alert> alerts;
    for (int i = 0; i < 110; ++i) scheduled.process(ping(i, "W" + std::to_string(i), "LOOP"), alerts);
    ProcessEvent later = ping(0, "X", "");
    later.name = "ls";
    later.executable = "/usr/bin/ls";
    later.time_ms = kT0 + 20 * 60'000;
    scheduled.process(later, alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(term_of(alerts[0], "process.parent.parent.entity_id") == "LOOP");
}
