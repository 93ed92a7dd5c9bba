#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/exceptions.h"
#include "rules/rule_check.h"
#include "rules/rule_files.h"
#include "rules/engines/scheduled_engine.h"
#include "rules/engines/threshold_engine.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

namespace {

const std::string kElastic = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/";

std::shared_ptr<const RuleDefinition> must_load(const std::string& text) {
    auto r = load_rule(text, "check.toml");
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

std::shared_ptr<const RuleDefinition> rule_with(const std::string& query, const std::string& group_by = "\"host.id\"",
                                                const std::string& extra = "") {
    return must_load("[rule]\nname = \"n\"\nrule_id = \"r\"\ntype = \"threshold\"\nquery = '''" + query +
                     "'''\n[rule.threshold]\nfield = [" + group_by + "]\nvalue = 1\n" + extra);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("Rule check: the built-in and Elastic's network-scan rules can fire", "[rule-check]") {
    const auto builtin = must_load(std::string(builtin_rule_text()));
    CHECK(rule_warnings(*builtin).empty());
    CHECK(can_fire(*builtin));
    for (const char* name : {"discovery_ping_sweep_detected.v4.toml", "discovery_ping_sweep_detected.latest.toml"}) {
        INFO(name);
        const RuleSet set = load_rules(kElastic + name);
        REQUIRE(set.rules.size() == 1);
        CHECK(rule_warnings(*set.rules[0]).empty());
    }
}

// Elastic's "High Number of Process Terminations" counts pkill -f / kill -9 / killall execs per
// host.id, process.executable and user.name. Those are exec events scanwatch makes, so the rule
// can fire: no warning. Its user.name is set only when names are known (ENRICHED logs, live
// lookups); on RAW logs every event lacks it and counts in no group. explain_rule says so.
TEST_CASE("Rule check: Elastic's process-kill rule can fire on scanwatch events with user names", "[rule-check]") {
    const RuleSet set = load_rules(kElastic + "impact_process_kill_threshold.toml");
    REQUIRE(set.rules.size() == 1);
    const auto rule = set.rules[0];
    CHECK(rule->unknown_fields.empty());
    CHECK(rule_warnings(*rule).empty());
    CHECK(can_fire(*rule));
    CHECK(contains(explain_rule(*rule), "user.name has a value only when names are known"));

    const auto pkill = [](std::int64_t t, bool with_name) {
        ProcessEvent e;
        e.time_ms = t;
        e.host_id = "h1";
        e.pid = 100 + t % 1000;
        e.name = "pkill";
        e.executable = "/usr/bin/pkill";
        e.args = {"pkill", "-f", "backup-agent"};
        e.user.id = "0";
        if (with_name) e.user.name = "root";
        return e;
    };
    for (bool with_name : {true, false}) {
        INFO("user.name set: " << with_name);
        ThresholdEngine engine(rule, {});
        std::vector<Alert> alerts;
        for (int i = 0; i < 15; ++i) engine.process(pkill(1'700'000'000'000 + i * 1000, with_name), alerts);
        CHECK(engine.counters().matched == 15);
        CHECK(alerts.size() == (with_name ? 1U : 0U));
        CHECK(engine.counters().missing_group_field == (with_name ? 0U : 15U));
    }
}

TEST_CASE("Rule check: rules that cannot fire on scanwatch events load and say why", "[rule-check]") {
    SECTION("a query for other event categories") {
        const auto r = rule_with("event.category:file and file.path:/etc/passwd");
        const auto w = rule_warnings(*r);
        REQUIRE(w.size() == 2);  // and the fields it reads that scanwatch never fills
        CHECK(w[0] ==
              "cannot fire on scanwatch events: its query requires event.category to be file; "
              "scanwatch events have event.category: process or network");
        CHECK_FALSE(can_fire(*r));
    }
    SECTION("a query no exec event matches, without a simple required value") {
        const auto r = rule_with("event.type:(end or change) or event.action:exit*");
        const auto reasons = cannot_fire_reasons(*r);
        REQUIRE(reasons.size() == 1);
        CHECK(contains(reasons[0], "its query can never match a scanwatch exec event"));
    }
    SECTION("a query requiring a field scanwatch never sets") {
        const auto r = rule_with("process.name:ping and process.hash.sha256:abc");
        CHECK(r->unknown_fields == std::vector<std::string>{"process.hash.sha256"});
        const auto w = rule_warnings(*r);
        REQUIRE(w.size() == 2);
        CHECK(contains(w[0], "cannot fire on scanwatch events"));
        CHECK(contains(w[0], "its query needs fields scanwatch never fills"));
        CHECK(contains(w[0], "process.hash.sha256"));
        CHECK(contains(w[1], "never have a value here: process.hash.sha256"));
    }
    SECTION("a group-by field scanwatch never sets") {
        const auto r = rule_with("process.name:ping", "\"host.id\", \"source.ip\"");
        const auto w = rule_warnings(*r);
        REQUIRE(w.size() == 1);
        CHECK(contains(w[0], "groups by source.ip, a field scanwatch events never carry"));
    }
    SECTION("a cardinality field scanwatch never sets") {
        const auto r = rule_with("process.name:ping", "\"host.id\"",
                                 "[[rule.threshold.cardinality]]\nfield = \"destination.domain\"\nvalue = 10\n");
        REQUIRE(rule_warnings(*r).size() == 1);
        CHECK(contains(rule_warnings(*r)[0], "distinct values of destination.domain"));
    }
    SECTION("an exception that matches every event") {
        const auto r = rule_with("process.name:ping", "\"host.id\"",
                                 "[[rule.exceptions]]\nquery = 'host.os.type:linux'\n");
        REQUIRE(cannot_fire_reasons(*r).size() == 1);
        CHECK(contains(cannot_fire_reasons(*r)[0], "matches every scanwatch event"));
    }
}

TEST_CASE("Rule check: warnings that do not stop a rule from firing", "[rule-check]") {
    SECTION("a field that never has a value, under not") {
        const auto r = rule_with("process.name:ping and not process.hash.sha256:abc");
        CHECK(can_fire(*r));
        const auto w = rule_warnings(*r);
        REQUIRE(w.size() == 1);
        CHECK(w[0] == "its query reads fields scanwatch events never carry; they never have a value here: process.hash.sha256");
    }
    SECTION("an exception that can never match") {
        const auto r = rule_with("process.name:ping", "\"host.id\"",
                                 "[[rule.exceptions]]\nquery = 'source.ip:\"10.0.0.1\"'\n");
        CHECK(can_fire(*r));
        const auto w = rule_warnings(*r);
        REQUIRE(w.size() == 1);
        CHECK(contains(w[0], "can never match a scanwatch event: it reads fields scanwatch events never carry: source.ip"));
    }
    SECTION("failed execs are scanwatch events too") {
        CHECK(rule_warnings(*rule_with("process.name:ping and event.outcome:failure")).empty());
        CHECK_FALSE(can_fire(*rule_with("event.outcome:(success and failure)")));
    }
}

TEST_CASE("Rule check: explain_rule says what the rule does", "[rule-check]") {
    auto rule = must_load(std::string(builtin_rule_text()));
    rule = with_exceptions({rule}, load_exceptions("[[exception]]\ndescription = \"monitoring\"\nquery = 'user.name:nagios'\n",
                                                   "site.toml").exceptions)[0];
    const std::string text = explain_rule(*rule);
    INFO(text);
    CHECK(text.rfind("rule \"Potential Network Scan Executed From Host\"\n", 0) == 0);
    CHECK(contains(text, "rule_id      03c23d45-d3cb-4ad4-ab5d-b361ffe8724a\n"));
    CHECK(contains(text, "source       check.toml\n"));
    CHECK(contains(text, "matches      event.category:process and host.os.type:linux and (event.action:exec or "));
    CHECK(contains(text, "process.name one of ping, nping, hping, hping2, hping3, nc, ncat, netcat, socat (comm;"));
    CHECK(contains(text, "exceptions   not user.name:nagios  [site.toml:1: monitoring]\n"));
    CHECK(contains(text, "group by     host.id, process.parent.entity_id, process.executable\n"));
    CHECK(contains(text, "threshold    a group alerts with at least 1 event and at least 100 distinct values of process.args\n"));
    CHECK(contains(text, "window       look-back 9 min (from = \"now-9m\"), runs every 5 min (interval = \"5m\"), at most 100 alerts per interval"));
    CHECK(contains(text, "threat       MITRE ATT&CK TA0007 Discovery: T1046 Network Service Discovery\n"));
    CHECK(contains(text, "warnings     none\n"));
    CHECK_FALSE(contains(text, "notes"));
    CHECK_FALSE(contains(text, "auditd.session"));
    // The hardened profile says where it groups by session besides the rule's own fields.
    const std::string hardened = explain_rule(*rule, true);
    CHECK(contains(hardened, "group by     host.id, process.parent.entity_id, process.executable\n"
                             "               and, hardened profile, by auditd.session in place of "
                             "process.parent.entity_id"));
    CHECK(contains(hardened, "without a login session, by process.parent.parent.entity_id"));
    CHECK_FALSE(contains(text, "process.parent.parent.entity_id"));
    CHECK_FALSE(contains(explain_rule(*rule_with("process.name:ping"), true), "auditd.session"));

    const auto bad = rule_with("event.category:file");
    const std::string bad_text = explain_rule(*bad);
    CHECK(contains(bad_text, "process.name no one list of names required at the top level of the query (see matches)\n"));
    CHECK(contains(bad_text, "warnings     cannot fire on scanwatch events: its query requires event.category"));
}

TEST_CASE("Rule check: evaluation modes parse and pick their engine", "[rule-check]") {
    Evaluation e = Evaluation::streaming;
    CHECK(parse_evaluation("scheduled", e));
    CHECK(e == Evaluation::scheduled);
    CHECK(parse_evaluation("streaming", e));
    CHECK(e == Evaluation::streaming);
    CHECK_FALSE(parse_evaluation("Scheduled", e));
    CHECK(e == Evaluation::streaming);
    CHECK(evaluation_name(Evaluation::scheduled) == "scheduled");

    const auto rule = must_load(std::string(builtin_rule_text()));
    EngineOptions options;
    CHECK(dynamic_cast<ThresholdEngine*>(make_engine(rule, options).get()) != nullptr);
    EngineOptions scheduled;
    scheduled.evaluation = Evaluation::scheduled;
    CHECK(dynamic_cast<ScheduledEngine*>(make_engine(rule, scheduled).get()) != nullptr);
    CHECK_FALSE(options == scheduled);
    CHECK(options != scheduled);
    scheduled.evaluation = Evaluation::streaming;
    CHECK(options == scheduled);
}
