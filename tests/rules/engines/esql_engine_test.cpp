#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engines/esql/esql_engine.h"
#include "rules/esql/source.h"
#include "rules/rule_check.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::EventKind;
using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kRun0 = 493'000 * kHour;  // a multiple of 1h

std::shared_ptr<const RuleDefinition> esql_rule(const std::string& query,
                                                const std::string& interval = "1h",
                                                const std::string& from = "now-61m",
                                                int max_signals = 100) {
    const std::string text = "[rule]\nrule_id = \"r1\"\nname = \"R\"\ntype = \"esql\"\nlanguage = \"esql\"\n"
                             "interval = \"" + interval + "\"\nfrom = \"" + from + "\"\nmax_signals = " +
                             std::to_string(max_signals) + "\nquery = '''\n" + query + "\n'''\n";
    auto r = load_rule(text, "test.toml");
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

ProcessEvent connect(std::int64_t t, const std::string& ip, int port, std::uint64_t serial) {
    ProcessEvent e = scanwatch::test::ping(t, ip, "P1", serial);
    e.kind = EventKind::connect;
    e.name = "nmap";
    e.executable = "/usr/bin/nmap";
    e.network.destination_ip = ip;
    e.network.destination_port = port;
    e.network.outcome = "unknown";
    return e;
}

// A cut-down copy of Elastic's port-scan rule (rules/linux/discovery_port_scanning_...).
const char* kPortScan = R"(from logs-endpoint.events.network-* metadata _id, _index, _version
| mv_expand event.action
| where host.os.type == "linux" and event.type == "start" and event.action == "connection_attempted" and
    network.direction == "egress" and destination.port < 32768 and not cidr_match(destination.ip, "127.0.0.0/8")
| keep @timestamp, _id, destination.port, process.executable, destination.ip, agent.id, host.name
| stats Esql.event_count = count(), Esql.destination_port_count_distinct = count_distinct(destination.port),
    Esql.agent_id_count_distinct = count_distinct(agent.id), Esql.host_name_values = values(host.name)
  by process.executable, destination.ip
| where Esql.agent_id_count_distinct == 1 and Esql.destination_port_count_distinct > 10
| eval host.name = mv_min(Esql.host_name_values)
| keep host.name, process.executable, destination.ip, Esql.*)";

}  // namespace

TEST_CASE("ES|QL engine: an aggregating rule alerts once per result row at the run whose window holds it",
          "[esql][engine]") {
    auto rule = esql_rule(kPortScan);
    CHECK(can_fire(*rule));
    EsqlEngine engine(rule, EngineOptions{});
    std::vector<Alert> alerts;
    // 12 ports of 10.0.0.5 and 12 of 127.0.0.1 (left out by the rule), then 5 ports of 10.0.0.6
    for (int p = 0; p < 12; ++p) {
        engine.process(connect(kRun0 + 10 * kMinute + p, "10.0.0.5", 20 + p, 2 * p + 1), alerts);
        engine.process(connect(kRun0 + 10 * kMinute + p, "127.0.0.1", 20 + p, 2 * p + 2), alerts);
    }
    for (int p = 0; p < 5; ++p) engine.process(connect(kRun0 + 11 * kMinute, "10.0.0.6", p, 100 + p), alerts);
    CHECK(alerts.empty());  // the run at kRun0 + 1h has not happened yet
    CHECK(engine.counters().matched == 17);
    CHECK(engine.counters().groups == 17);  // rows buffered
    engine.process(connect(kRun0 + kHour + 1, "10.0.0.9", 1, 200), alerts);  // runs kRun0 + 1h
    REQUIRE(alerts.size() == 1);
    const Alert& a = alerts[0];
    CHECK(a.time_ms == kRun0 + kHour);
    CHECK(a.event == nullptr);
    REQUIRE(a.esql_row);
    CHECK(*a.esql_row->find("destination.ip") == esql::Value(esql::Scalar(std::string("10.0.0.5"))));
    CHECK(*a.esql_row->find("Esql.destination_port_count_distinct") == esql::Value(esql::Scalar(std::int64_t{12})));
    const auto doc = nlohmann::json::parse(alert_to_json(a, 0));
    CHECK(doc.at("@timestamp") == "2026-03-29T17:00:00.000Z");
    CHECK(doc.at("event").at("kind") == "signal");
    CHECK(doc.at("Esql.event_count") == 12);
    CHECK(doc.at("host.name") == "host-one");
    CHECK(doc.at("process.executable") == "/usr/bin/nmap");
    CHECK(doc.at("kibana.alert.rule.type") == "esql");
    CHECK(doc.at("kibana.alert.rule.language") == "esql");
    CHECK(doc.at("kibana.alert.uuid").get<std::string>().size() == 32);
    CHECK(engine.counters().alerts == 1);
    CHECK(engine.runs() == 1);
}

TEST_CASE("ES|QL engine: the window is [run - from, run]; rows older than every later window go",
          "[esql][engine]") {
    auto rule = esql_rule("from logs-* | where process.name == \"ping\" | stats n = count(*)", "5m", "now-6m");
    EsqlEngine engine(rule, EngineOptions{});
    std::vector<Alert> alerts;
    // Two pings 2 min apart straddling a run at kRun0 + 5m: the run at +5m sees the first
    // (window [-1m, +5m]); the one at +10m sees both (window [+4m, +10m]).
    engine.process(scanwatch::test::ping(kRun0 + 4 * kMinute + 30'000, "a", "P1", 1), alerts);
    engine.process(scanwatch::test::ping(kRun0 + 6 * kMinute, "b", "P1", 2), alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(*alerts[0].esql_row->find("n") == esql::Value(esql::Scalar(std::int64_t{1})));
    engine.finish(alerts);
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[1].time_ms == kRun0 + 10 * kMinute);
    CHECK(*alerts[1].esql_row->find("n") == esql::Value(esql::Scalar(std::int64_t{2})));
    CHECK(engine.counters().groups == 0);
    // An event older than the next run's window is late.
    engine.process(scanwatch::test::ping(kRun0, "c", "P1", 3), alerts);
    CHECK(engine.counters().late == 1);
}

TEST_CASE("ES|QL engine: a non-aggregating rule alerts once per source event with its fields",
          "[esql][engine]") {
    auto rule = esql_rule(
        "FROM logs-* METADATA _id | WHERE process.name == \"ping\" | EVAL Esql.target = mv_last(process.args) "
        "| KEEP _id, process.name, Esql.target",
        "5m", "now-9m");
    EsqlEngine engine(rule, EngineOptions{});
    std::vector<Alert> alerts;
    engine.process(scanwatch::test::ping(kRun0 + kMinute, "10.1.1.1", "P1", 7), alerts);
    engine.process(scanwatch::test::ping(kRun0 + 6 * kMinute, "10.1.1.2", "P1", 8), alerts);  // runs +5m
    REQUIRE(alerts.size() == 1);
    engine.finish(alerts);  // run at +10m: its window [+1m, +10m] holds both; the first is deduplicated
    REQUIRE(alerts.size() == 2);
    REQUIRE(alerts[1].event);
    CHECK(alerts[1].event->serial == 8);
    const auto doc = nlohmann::json::parse(alert_to_json(alerts[0], 0));
    CHECK(doc.at("process").at("args").back() == "10.1.1.1");  // the source event's fields
    CHECK(doc.at("Esql.target") == "10.1.1.1");                // and the row's own
    CHECK(doc.at("kibana.alert.original_time") == "2026-03-29T16:01:00.000Z");
    CHECK(doc.at("kibana.alert.ancestors").at(0).at("id") == alerts[0].event->event_id());
    CHECK_FALSE(doc.contains("_id"));
}

TEST_CASE("ES|QL engine: rows buffered are capped, the oldest dropped and counted", "[esql][engine]") {
    auto rule = esql_rule("from logs-* | where process.name == \"ping\" | stats n = count(*)");
    EngineOptions options;
    options.max_groups = 30;  // 30 rows
    EsqlEngine engine(rule, options);
    CHECK(engine.max_rows() == 30);
    std::vector<Alert> alerts;
    for (int i = 0; i < 45; ++i) {
        engine.process(scanwatch::test::ping(kRun0 + kMinute + i, "t", "P1", static_cast<std::uint64_t>(i + 1)), alerts);
    }
    CHECK(engine.counters().groups == 30);
    CHECK(engine.counters().groups_evicted == 15);
    engine.finish(alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(*alerts[0].esql_row->find("n") == esql::Value(esql::Scalar(std::int64_t{30})));
}

TEST_CASE("ES|QL engine: max_signals per run, the rest held back", "[esql][engine]") {
    auto rule = esql_rule("from logs-* | stats n = count(*) by process.args", "1h", "now-61m", 2);
    EsqlEngine engine(rule, EngineOptions{});
    std::vector<Alert> alerts;
    engine.process(scanwatch::test::ping(kRun0 + kMinute, "t", "P1", 1), alerts);  // 4 args: 4 groups
    engine.finish(alerts);
    CHECK(alerts.size() == 2);
    CHECK(engine.counters().held_back == 2);
}

TEST_CASE("ES|QL views: FROM decides which events a rule reads and how they are named", "[esql][engine]") {
    auto endpoint = esql_rule("from logs-endpoint.events.process-* | keep event.action, event.type, agent.id, data_stream.dataset");
    auto auditd = esql_rule("from logs-auditd_manager.auditd-*, logs-endpoint.events.* | keep event.action, event.type");
    const auto sources = esql_source::sources_of(*endpoint->esql);
    CHECK(sources.endpoint_process);
    CHECK_FALSE(sources.endpoint_network);
    esql::Row row;
    ProcessEvent exec = scanwatch::test::ping(kRun0, "t");
    REQUIRE(esql_source::source_row(*endpoint->esql, sources, exec, NameMatch::any, row));
    CHECK(*row.find("event.action") == esql::Value(esql::Scalar(std::string("exec"))));
    CHECK(*row.find("agent.id") == esql::Value(esql::Scalar(std::string("h1"))));
    CHECK(*row.find("data_stream.dataset") == esql::Value(esql::Scalar(std::string("endpoint.events.process"))));
    ProcessEvent net = connect(kRun0, "10.0.0.1", 22, 1);
    CHECK_FALSE(esql_source::source_row(*endpoint->esql, sources, net, NameMatch::any, row));
    const auto both = esql_source::sources_of(*auditd->esql);
    CHECK(both.auditd);
    REQUIRE(esql_source::source_row(*auditd->esql, both, net, NameMatch::any, row));
    CHECK(*row.find("event.action") == esql::Value(esql::Scalar(std::string("connected-to"))));
    CHECK(row.find("event.type")->items.size() == 2);  // ["connection", "start"]
    // process.name is the comm alone, even under the wider name match
    auto names = esql_rule("from logs-* | keep process.name");
    ProcessEvent sh = scanwatch::test::ping(kRun0, "t");
    sh.name = "sh";
    sh.executable = "/usr/bin/dash";
    sh.args = {"sh", "-c", "id"};
    REQUIRE(esql_source::source_row(*names->esql, esql_source::sources_of(*names->esql), sh, NameMatch::any, row));
    CHECK(*row.find("process.name") == esql::Value(esql::Scalar(std::string("sh"))));
}

TEST_CASE("ES|QL rules check: other agents' indices, unknown and impossible fields cannot fire", "[esql][engine]") {
    auto alerts_index = esql_rule("from .alerts-security.* | stats n = count(*) by host.name");
    auto reasons = cannot_fire_reasons(*alerts_index);
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].find("hold nothing of scanwatch's") != std::string::npos);
    auto unknown = esql_rule("from logs-endpoint.* | where event.agent_id_status is not null | keep agent.id");
    reasons = cannot_fire_reasons(*unknown);
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].find("event.agent_id_status") != std::string::npos);
    auto dataset = esql_rule("from logs-* | where (data_stream.dataset == \"endpoint.alerts\" and event.module == \"endpoint\") or "
                             "data_stream.dataset == \"suricata.eve\"");
    CHECK_FALSE(can_fire(*dataset));
    auto fine = esql_rule("from logs-* | where event.category == \"process\" and event.type == \"start\" | keep process.name");
    CHECK(can_fire(*fine));
    auto computed = esql_rule("from logs-* | eval x = to_lower(process.name) | where x like \"p*\"");
    CHECK(can_fire(*computed));
    const std::string text = explain_rule(*esql_rule(kPortScan), true);
    CHECK(text.find("  reads        connect events as Elastic Defend's network events\n") != std::string::npos);
    CHECK(text.find("one per result row of each run (aggregating query") != std::string::npos);
    CHECK(text.find("  warnings     none\n") != std::string::npos);
}

TEST_CASE("ES|QL rules: parse errors are load errors; unsupported ES|QL is skipped as unsupported", "[esql][engine]") {
    auto r = load_rule("[rule]\nrule_id = \"r\"\nname = \"n\"\ntype = \"esql\"\nlanguage = \"esql\"\nquery = \"from x | grok a \\\"%{WORD:b}\\\"\"\n", "f.toml");
    REQUIRE(std::holds_alternative<RuleError>(r));
    CHECK(std::get<RuleError>(r).unsupported);
    r = load_rule("[rule]\nrule_id = \"r\"\nname = \"n\"\ntype = \"esql\"\nlanguage = \"esql\"\nquery = \"from x | where a = 1\"\n", "f.toml");
    REQUIRE(std::holds_alternative<RuleError>(r));
    CHECK_FALSE(std::get<RuleError>(r).unsupported);
    CHECK(std::get<RuleError>(r).line == 6);
}

TEST_CASE("ES|QL engine: an aggregating rule's schedule and rows survive save and restore", "[esql][engine]") {
    auto rule = esql_rule("from logs-* | where process.name == \"ping\" | stats n = count(*), t = values(process.args) by host.name");
    EsqlEngine first(rule, EngineOptions{});
    std::vector<Alert> alerts;
    first.process(scanwatch::test::ping(kRun0 + kMinute, "10.0.0.1", "P1", 1), alerts);
    first.process(scanwatch::test::ping(kRun0 + 2 * kMinute, "10.0.0.2", "P1", 2), alerts);
    const nlohmann::json state = nlohmann::json::parse(first.save_state().dump());
    EsqlEngine second(rule, EngineOptions{});
    REQUIRE(second.restore_state(state));
    CHECK(second.counters().groups == 2);
    second.process(scanwatch::test::ping(kRun0 + 3 * kMinute, "10.0.0.3", "P1", 3), alerts);
    second.finish(alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(*alerts[0].esql_row->find("n") == esql::Value(esql::Scalar(std::int64_t{3})));
    CHECK_FALSE(second.restore_state(nlohmann::json{{"engine", "scheduled"}}));
    CHECK_FALSE(second.restore_state(nlohmann::json{{"engine", "esql"}, {"next_run_ms", 1.5}}));
}

namespace {

// What the index files an ES|QL rule under: "field=value" keys (by field), or "every event".
std::string keys_of(const std::string& query) {
    const auto rule = esql_rule(query);
    const EngineInterest interest = EsqlEngine(rule, EngineOptions{}).interest();
    if (interest.kind == EngineInterest::Kind::every_event) return "every event";
    REQUIRE(interest.kind == EngineInterest::Kind::keyed);
    CHECK(interest.clocked);
    std::vector<IndexKey> keys = interest.keys;
    std::sort(keys.begin(), keys.end());
    std::string out;
    for (const IndexKey& k : keys) {
        out += (out.empty() ? "" : " ") + std::string(FieldCatalog::name_of(k.field_id)) + "=" + k.value;
    }
    return out.empty() ? "no event" : out;
}

}  // namespace

TEST_CASE("ES|QL index keys: what a row-by-row WHERE requires of a source field", "[esql][rule_index]") {
    const std::string from = "from logs-endpoint.events.process-* metadata _id ";
    CHECK(keys_of(from + "| where process.name == \"Nmap\"") == "process.name=nmap");
    CHECK(keys_of(from + "| where to_lower(process.name) in (\"nc\", \"ncat\") and host.os.type == \"linux\"") ==
          "process.name=nc process.name=ncat");
    CHECK(keys_of(from + "| where process.parent.name like \"xargs\"") == "process.parent.name=xargs");
    // AND keeps the more selective side; OR needs keys on both.
    CHECK(keys_of(from + "| where process.args == \"-c\" and process.name == \"sh\"") == "process.name=sh");
    CHECK(keys_of(from + "| where process.name == \"sh\" or process.executable == \"/bin/sh\"") ==
          "process.name=sh process.executable=/bin/sh");
    CHECK(keys_of(from + "| where process.name == \"sh\" or process.args == \"-c\"") ==
          "process.name=sh process.args=-c");
    CHECK(keys_of("from logs-endpoint.events.network-* | where destination.port in (22, 80)") ==
          "destination.port=22 destination.port=80");
    // After commands that work row by row: EVAL and MV_EXPAND of other columns keep the keys.
    CHECK(keys_of(from + "| eval x = 1 | mv_expand process.args | where process.name == \"su\"") ==
          "process.name=su");
    // KQL("..."): the keys its query requires, on the call's own fields.
    CHECK(keys_of(from + "| where KQL(\"process.name:(nc or Ncat) and process.args:-z\")") ==
          "process.name=nc process.name=ncat");
    CHECK(keys_of(from + "| where KQL(\"event.action:exec\")") == "every event");
    // An OR branch no row of scanwatch's can satisfy (another data set's) needs no key.
    CHECK(keys_of("from logs-* | where data_stream.dataset == \"panw.panos\" or process.name == \"nc\"") ==
          "process.name=nc");
    // A WHERE none can satisfy: no candidate event, only the schedule moves.
    CHECK(keys_of("from logs-* | where data_stream.dataset == \"panw.panos\"") == "no event");
    // No finite set: a wildcard, a computed column, a negation, an OR branch without one,
    // event.action and event.type (which the views name differently), a WHERE after STATS.
    CHECK(keys_of(from + "| where process.name like \"py*\"") == "every event");
    CHECK(keys_of(from + "| eval n = to_lower(process.name) | where n == \"nc\"") == "every event");
    CHECK(keys_of(from + "| rename process.executable as process.name | where process.name == \"nc\"") ==
          "every event");
    CHECK(keys_of(from + "| where process.name != \"nc\"") == "every event");
    CHECK(keys_of(from + "| where process.name == \"nc\" or process.args_count > 3") == "every event");
    CHECK(keys_of(from + "| where event.action == \"exec\"") == "every event");
    CHECK(keys_of(from + "| stats c = count(*) by process.name | where process.name == \"nc\"") ==
          "every event");
}

TEST_CASE("ES|QL: the first WHERE tried on part of the row gives what the whole row gives", "[esql][engine]") {
    // MV_EXPAND over a multi-valued column before the WHERE: each value is tried, as without.
    auto expand = esql_rule("from logs-endpoint.events.process-* metadata _id | mv_expand process.args | "
                            "where process.args == \"-c\" | keep process.args, _id");
    EsqlEngine engine(expand, EngineOptions{});
    std::vector<Alert> alerts;
    ProcessEvent e = scanwatch::test::ping(kRun0 + kMinute, "t", "P1", 1);
    e.args = {"ping", "-c", "1", "127.0.0.1"};
    engine.process(e, alerts);
    ProcessEvent other = scanwatch::test::ping(kRun0 + 2 * kMinute, "t", "P1", 2);
    other.args = {"ping", "127.0.0.1"};
    engine.process(other, alerts);
    engine.finish(alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].event->event_id() == e.event_id());
    CHECK(engine.counters().matched == 1);
}

TEST_CASE("ES|QL: the reused rows give back an event's megabyte of arguments", "[esql][engine][memory]") {
    auto rule = esql_rule("from logs-endpoint.events.process-* metadata _id | where process.args == \"-c\" | "
                          "keep process.args, process.command_line");
    EsqlEngine engine(rule, EngineOptions{});
    std::vector<Alert> alerts;
    ProcessEvent small = scanwatch::test::ping(kRun0 + kMinute, "t", "P1", 1);
    engine.process(small, alerts);
    CHECK(engine.scratch_bytes() > 0);
    CHECK(engine.scratch_bytes() < 64 * 1024);
    ProcessEvent big = scanwatch::test::ping(kRun0 + kMinute, "t", "P1", 2);
    big.args.assign(256, std::string(4096, 'a'));  // 1 MiB
    engine.process(big, alerts);
    CHECK(engine.scratch_bytes() < 64 * 1024);
    engine.process(small, alerts);
    CHECK(engine.scratch_bytes() < 64 * 1024);
}
