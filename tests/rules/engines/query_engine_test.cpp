#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engines/query_engine.h"
#include "rules/rule_check.h"
#include "rules/engines/engine.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::shared_ptr<const RuleDefinition> load(const std::string& text) {
    auto r = load_rule(text, "test.toml");
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

std::string query_rule(const std::string& query, const std::string& extra = "") {
    return "[rule]\nrule_id = \"q1\"\nname = \"Shred\"\ntype = \"query\"\nlanguage = \"kuery\"\n"
           "severity = \"medium\"\nrisk_score = 47\ninterval = \"5m\"\nquery = '''" +
           query + "'''\n" + extra;
}

ProcessEvent exec(std::int64_t time_ms, const std::string& name, std::vector<std::string> args,
                  std::uint64_t serial = 1) {
    ProcessEvent e;
    e.time_ms = time_ms;
    e.serial = serial;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.pid = 1000;
    e.ppid = 999;
    e.name = name;
    e.executable = "/usr/bin/" + name;
    e.args = std::move(args);
    e.args_count = e.args.size();
    e.parent_executable = "/usr/bin/bash";
    e.user.id = "0";
    e.user.name = "root";
    return e;
}

}  // namespace

TEST_CASE("Query rule: an alert per matching event, none for the others", "[query_rule]") {
    const auto rule = load(query_rule("event.category:process and process.name:shred and process.args:-u"));
    REQUIRE(rule->rule_type == RuleType::query);
    auto engine = make_engine(rule, {});
    std::vector<Alert> alerts;
    engine->process(exec(kT0, "shred", {"shred", "-u", "f"}, 1), alerts);
    engine->process(exec(kT0 + 1, "shred", {"shred", "f"}, 2), alerts);
    engine->process(exec(kT0 + 2, "rm", {"rm", "-u"}, 3), alerts);
    engine->process(exec(kT0 + 3, "shred", {"shred", "-u", "g"}, 4), alerts);
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].evidence.last_event.id != alerts[1].evidence.last_event.id);
    CHECK(alerts[0].uuid != alerts[1].uuid);
    CHECK(engine->counters().matched == 2);
    CHECK(engine->counters().alerts == 2);
}

TEST_CASE("Query rule: the alert is the event plus Kibana's query-alert fields", "[query_rule]") {
    const auto rule = load(query_rule("process.name:shred"));
    QueryEngine engine(rule, {});
    std::vector<Alert> alerts;
    engine.process(exec(kT0, "shred", {"shred", "-u", "f"}, 77), alerts);
    REQUIRE(alerts.size() == 1);
    const auto j = nlohmann::json::parse(alert_to_json(alerts[0], kT0 + 5000));
    CHECK(j["event"]["kind"] == "signal");
    CHECK(j["event"]["action"] == "executed");
    CHECK(j["event"]["created"] == "2023-11-14T22:13:25.000Z");
    CHECK(j["process"]["args"] == nlohmann::json::array({"shred", "-u", "f"}));
    CHECK(j["process"]["parent"]["executable"] == "/usr/bin/bash");
    CHECK(j["kibana.alert.rule.type"] == "query");
    CHECK(j["kibana.alert.rule.rule_id"] == "q1");
    CHECK(j["kibana.alert.original_time"] == "2023-11-14T22:13:20.000Z");
    CHECK(j["kibana.alert.original_event.kind"] == "event");
    CHECK(j["kibana.alert.ancestors"][0]["id"] == "1700000000.000:77");
    CHECK(j["kibana.alert.ancestors"][0]["type"] == "event");
    CHECK(j["kibana.alert.reason"] ==
          "process event with process shred, parent process bash, by root on host-one created "
          "medium alert Shred.");
    CHECK(!j.contains("kibana.alert.threshold_result"));
}

TEST_CASE("Query rule: at most max_signals alerts per interval of event time", "[query_rule]") {
    const auto rule = load(query_rule("process.name:shred", "max_signals = 2\n"));
    QueryEngine engine(rule, {});
    std::vector<Alert> alerts;
    const std::int64_t start = kT0 - kT0 % 300'000;  // an interval's start
    for (std::uint64_t i = 0; i < 5; ++i) {
        engine.process(exec(start + static_cast<std::int64_t>(i), "shred", {"shred"}, i), alerts);
    }
    CHECK(alerts.size() == 2);
    CHECK(engine.counters().held_back == 3);
    engine.process(exec(start + 300'000, "shred", {"shred"}, 9), alerts);  // the next interval
    CHECK(alerts.size() == 3);
}

TEST_CASE("Query rule: an exception stops the alert and is counted", "[query_rule]") {
    const auto rule = load(query_rule("process.name:shred",
                                      "[[rule.exceptions]]\nquery = 'process.args:/var/log/*'\n"));
    QueryEngine engine(rule, {});
    std::vector<Alert> alerts;
    engine.process(exec(kT0, "shred", {"shred", "/var/log/old"}, 1), alerts);
    engine.process(exec(kT0, "shred", {"shred", "/home/a"}, 2), alerts);
    CHECK(alerts.size() == 1);
    CHECK(engine.counters().excepted == 1);
}

TEST_CASE("Query rule: the max_signals count survives save and restore", "[query_rule]") {
    const auto rule = load(query_rule("process.name:shred", "max_signals = 1\n"));
    QueryEngine first(rule, {});
    std::vector<Alert> alerts;
    first.process(exec(kT0, "shred", {"shred"}, 1), alerts);
    QueryEngine second(rule, {});
    REQUIRE(second.restore_state(first.save_state()));
    second.process(exec(kT0 + 1, "shred", {"shred"}, 2), alerts);
    CHECK(alerts.size() == 1);
    CHECK_FALSE(second.restore_state(nlohmann::json{{"engine", "streaming"}}));
    CHECK_FALSE(second.restore_state(nlohmann::json{{"engine", "query"}, {"signal_bucket", 1.5},
                                                    {"signals_in_bucket", 0}}));
}

TEST_CASE("Rule types: what loads, and what rules check says cannot fire", "[query_rule]") {
    CHECK(std::holds_alternative<RuleError>(
        load_rule("[rule]\nrule_id = \"x\"\nname = \"x\"\ntype = \"esql\"\nquery = 'x'\n", "t")));
    CHECK(std::holds_alternative<RuleError>(load_rule(
        "[rule]\nrule_id = \"x\"\nname = \"x\"\ntype = \"query\"\nlanguage = \"lucene\"\nquery = 'a:b'\n",
        "t")));
    const auto defend = load(query_rule("event.action:(exec or start) and process.name:shred"));
    const auto reasons = cannot_fire_reasons(*defend);
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].find("other agents (Elastic Defend") != std::string::npos);
    CHECK(reasons[0].find("says executed") == std::string::npos);  // the sentence reads "say"
    CHECK(can_fire(*load(query_rule("event.action:(exec or executed) and process.name:shred"))));
}
