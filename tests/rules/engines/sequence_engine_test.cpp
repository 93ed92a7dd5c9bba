// EQL sequences and samples as a stream (docs/rules.md, "EQL sequences"): order, maxspan, join
// keys, until, runs, missing events, samples, the state cap, state round trip, alert shape.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engines/engine.h"
#include "rules/engines/sequence/sequence_engine.h"
#include "rules/rule_check.h"

using scanwatch::EventKind;
using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::shared_ptr<const RuleDefinition> load(const std::string& query) {
    const std::string text =
        "[rule]\nrule_id = \"s1\"\nname = \"Seq\"\ntype = \"eql\"\nlanguage = \"eql\"\n"
        "severity = \"high\"\nrisk_score = 73\ninterval = \"5m\"\nfrom = \"now-9m\"\nquery = '''" +
        query + "'''\n";
    auto r = load_rule(text, "test.toml");
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

std::uint64_t g_serial = 0;

ProcessEvent exec(std::int64_t time_ms, const std::string& name, const std::string& user = "0") {
    ProcessEvent e;
    e.time_ms = time_ms;
    e.serial = ++g_serial;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.pid = 1000;
    e.ppid = 999;
    e.name = name;
    e.executable = "/usr/bin/" + name;
    e.args = {name};
    e.args_count = 1;
    e.entity_id = "E-" + name;
    e.user.id = user;
    e.user.name = user == "0" ? "root" : "u" + user;
    return e;
}

ProcessEvent connect(std::int64_t time_ms, const std::string& name, std::int64_t port) {
    ProcessEvent e = exec(time_ms, name);
    e.kind = EventKind::connect;
    e.network.destination_ip = "127.0.0.1";
    e.network.destination_port = port;
    e.network.transport = "tcp";
    e.network.type = "ipv4";
    e.network.outcome = "success";
    return e;
}

// Shell alerts (the last alert of each sequence) among `alerts`.
std::size_t shells(const std::vector<Alert>& alerts) {
    std::size_t n = 0;
    for (const Alert& a : alerts) n += a.group && a.group_index < 0 ? 1 : 0;
    return n;
}

struct Run {
    std::unique_ptr<RuleEngine> engine;
    std::vector<Alert> alerts;
    explicit Run(const std::string& query, std::size_t cap = kSequenceMaxPartials,
                 std::size_t bytes = kSequenceMaxBytes)
        : engine(std::make_unique<SequenceEngine>(load(query), EngineOptions{}, cap, bytes)) {}
    Run& operator<<(const ProcessEvent& e) {
        engine->process(e, alerts);
        return *this;
    }
};

const char* kAB = "sequence by user.id with maxspan=10s "
                  "[process where process.name == \"a\"] [process where process.name == \"b\"]";

}  // namespace

TEST_CASE("Sequence: terms in order alert once, out of order not", "[sequence]") {
    Run in_order(kAB);
    in_order << exec(kT0, "a") << exec(kT0 + 1000, "b");
    REQUIRE(in_order.alerts.size() == 3);  // two building blocks, then the shell
    CHECK(in_order.alerts[0].group_index == 0);
    CHECK(in_order.alerts[1].group_index == 1);
    CHECK(in_order.alerts[2].group_index == -1);
    CHECK(in_order.alerts[0].event->name == "a");
    CHECK(in_order.alerts[2].group->events.size() == 2);
    CHECK(in_order.engine->counters().alerts == 1);
    CHECK(in_order.engine->counters().groups == 0);

    Run reversed(kAB);
    reversed << exec(kT0, "b") << exec(kT0 + 1000, "a");
    CHECK(reversed.alerts.empty());
    CHECK(reversed.engine->counters().groups == 1);  // a waits for a b
}

TEST_CASE("Sequence: maxspan includes its end, not a millisecond more", "[sequence]") {
    Run at_span(kAB);
    at_span << exec(kT0, "a") << exec(kT0 + 10'000, "b");
    CHECK(shells(at_span.alerts) == 1);
    Run over(kAB);
    over << exec(kT0, "a") << exec(kT0 + 10'001, "b");
    CHECK(over.alerts.empty());
}

TEST_CASE("Sequence: the newest partial advances (a later a restarts the span)", "[sequence]") {
    Run r(kAB);
    r << exec(kT0, "a") << exec(kT0 + 8000, "a") << exec(kT0 + 15'000, "b");
    REQUIRE(shells(r.alerts) == 1);
    CHECK(r.alerts.back().group->events[0]->time_ms == kT0 + 8000);
    // Both a's were one partial: a second b finds none.
    r << exec(kT0 + 16'000, "b");
    CHECK(shells(r.alerts) == 1);
}

TEST_CASE("Sequence: join keys keep users apart; a missing key joins nothing", "[sequence]") {
    Run r(kAB);
    r << exec(kT0, "a", "1") << exec(kT0 + 1, "b", "2");
    CHECK(r.alerts.empty());
    r << exec(kT0 + 2, "b", "1");
    CHECK(shells(r.alerts) == 1);
    CHECK(r.alerts.back().group->events[1]->user.id == "1");

    Run nokey(kAB);
    nokey << exec(kT0, "a", "") << exec(kT0 + 1, "b", "");
    CHECK(nokey.alerts.empty());
    Run optional(
        "sequence by ?user.id with maxspan=10s "
        "[process where process.name == \"a\"] [process where process.name == \"b\"]");
    optional << exec(kT0, "a", "") << exec(kT0 + 1, "b", "");
    CHECK(shells(optional.alerts) == 1);
}

TEST_CASE("Sequence: per-term keys join with the sequence's", "[sequence]") {
    Run r("sequence by host.id with maxspan=10s "
          "[process where process.name == \"a\"] by process.entity_id "
          "[network where destination.port == 8080] by process.entity_id");
    ProcessEvent a = exec(kT0, "a");
    ProcessEvent other = connect(kT0 + 1, "a", 8080);
    other.entity_id = "E-other";
    r << a << other;
    CHECK(r.alerts.empty());
    r << connect(kT0 + 2, "a", 8080);
    REQUIRE(shells(r.alerts) == 1);
    CHECK(r.alerts.back().group->events[1]->kind == EventKind::connect);
}

TEST_CASE("Sequence: a term's category is the event's kind", "[sequence]") {
    Run r("sequence with maxspan=10s [process where process.name == \"a\"] "
          "[network where process.name == \"a\"]");
    r << exec(kT0, "a") << exec(kT0 + 1, "a");  // an exec is no network event
    CHECK(r.alerts.empty());
    r << connect(kT0 + 2, "a", 80);
    CHECK(shells(r.alerts) == 1);
}

TEST_CASE("Sequence: until drops the key's partial sequences", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=10s [process where process.name == \"a\"] "
                    "[process where process.name == \"b\"] until [process where process.name == \"stop\"]";
    Run r(q);
    r << exec(kT0, "a") << exec(kT0 + 1, "stop") << exec(kT0 + 2, "b");
    CHECK(r.alerts.empty());
    CHECK(r.engine->counters().groups == 0);
    Run other_user(q);
    other_user << exec(kT0, "a") << exec(kT0 + 1, "stop", "7") << exec(kT0 + 2, "b");
    CHECK(shells(other_user.alerts) == 1);
}

TEST_CASE("Sequence: with runs=N needs N events of the term", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=10s [process where process.name == \"a\"] with runs=3 "
                    "[process where process.name == \"b\"]";
    Run two(q);
    two << exec(kT0, "a") << exec(kT0 + 1, "a") << exec(kT0 + 2, "b");
    CHECK(two.alerts.empty());
    Run three(q);
    three << exec(kT0, "a") << exec(kT0 + 1, "a") << exec(kT0 + 2, "a") << exec(kT0 + 3, "b");
    REQUIRE(shells(three.alerts) == 1);
    CHECK(three.alerts.back().group->events.size() == 4);
}

TEST_CASE("Sequence: a missing event in the middle rejects what it falls between", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=10s [process where process.name == \"a\"] "
                    "![process where process.name == \"c\"] [process where process.name == \"b\"]";
    Run with_c(q);
    with_c << exec(kT0, "a") << exec(kT0 + 1, "c") << exec(kT0 + 2, "b");
    CHECK(with_c.alerts.empty());
    Run c_before(q);
    c_before << exec(kT0, "c") << exec(kT0 + 1, "a") << exec(kT0 + 2, "b");
    REQUIRE(shells(c_before.alerts) == 1);
    CHECK(c_before.alerts.back().group->events.size() == 2);  // only the events that happened
    Run c_other_user(q);
    c_other_user << exec(kT0, "a") << exec(kT0 + 1, "c", "5") << exec(kT0 + 2, "b");
    CHECK(shells(c_other_user.alerts) == 1);
}

TEST_CASE("Sequence: a leading missing event within maxspan before the last rejects", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=10s ![process where process.name == \"c\"] "
                    "[process where process.name == \"a\"] [process where process.name == \"b\"]";
    Run near(q);
    near << exec(kT0, "c") << exec(kT0 + 5000, "a") << exec(kT0 + 6000, "b");
    CHECK(near.alerts.empty());
    Run far(q);
    far << exec(kT0, "c") << exec(kT0 + 9000, "a") << exec(kT0 + 10'001, "b");
    CHECK(shells(far.alerts) == 1);
    Run after(q);  // a c after the first event is no leading one
    after << exec(kT0, "a") << exec(kT0 + 1, "c") << exec(kT0 + 2, "b");
    CHECK(shells(after.alerts) == 1);
}

TEST_CASE("Sequence: a trailing missing event holds the alert until maxspan passed", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=10s [process where process.name == \"a\"] "
                    "[process where process.name == \"b\"] ![process where process.name == \"c\"]";
    Run quiet(q);
    quiet << exec(kT0, "a") << exec(kT0 + 1000, "b");
    CHECK(quiet.alerts.empty());
    CHECK(quiet.engine->counters().groups == 1);
    quiet << exec(kT0 + 10'000, "x") << exec(kT0 + 10'000, "a");  // at the deadline: still open
    CHECK(quiet.alerts.empty());
    quiet << exec(kT0 + 10'001, "a");
    CHECK(shells(quiet.alerts) == 1);

    Run cancelled(q);
    cancelled << exec(kT0, "a") << exec(kT0 + 1000, "b") << exec(kT0 + 9000, "c");
    cancelled.engine->finish(cancelled.alerts);
    CHECK(cancelled.alerts.empty());

    Run at_end(q);
    at_end << exec(kT0, "a") << exec(kT0 + 1000, "b");
    at_end.engine->advance(kT0 + 10'000, at_end.alerts);
    CHECK(at_end.alerts.empty());
    at_end.engine->advance(kT0 + 10'001, at_end.alerts);
    CHECK(shells(at_end.alerts) == 1);
}

TEST_CASE("Sample: one event per term and key, in any order", "[sequence]") {
    const char* q = "sample by user.id [process where process.name == \"a\"] "
                    "[network where destination.port == 80]";
    Run r(q);
    r << connect(kT0, "x", 80) << exec(kT0 + 1, "a", "9");
    CHECK(r.alerts.empty());
    r << exec(kT0 + 2, "a");
    REQUIRE(shells(r.alerts) == 1);
    CHECK(r.alerts.back().group->events[0]->name == "a");  // in the terms' order
    CHECK(r.alerts.back().group->events[1]->kind == EventKind::connect);
    CHECK(r.engine->counters().groups == 1);  // user 9's a still waits
}

TEST_CASE("Sequence: the state cap evicts the least advanced, oldest first", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=1m [process where process.name == \"a\"] "
                    "[process where process.name == \"b\"] [process where process.name == \"c\"]";
    Run r(q, 8);
    r << exec(kT0, "a", "adv") << exec(kT0 + 1, "b", "adv");
    for (int i = 0; i < 20; ++i) r << exec(kT0 + 10 + i, "a", std::to_string(i));
    const RuleCounters& c = r.engine->counters();
    CHECK(c.groups <= 8);
    CHECK(c.groups_evicted >= 13);
    CHECK(c.values_evicted_max == 1);  // only partials at the first term went
    r << exec(kT0 + 100, "c", "adv");  // the advanced one survived
    CHECK(shells(r.alerts) == 1);
    r << exec(kT0 + 101, "b", "19") << exec(kT0 + 102, "c", "19");  // the newest survived too
    CHECK(shells(r.alerts) == 2);
}

TEST_CASE("Sequence: runs share their events; the byte cap evicts", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=1m [process where process.name == \"a\"] with runs=20";
    Run r(q, 1000, 64 * 1024);
    for (int i = 0; i < 19; ++i) r << exec(kT0 + i, "a");
    CHECK(r.alerts.empty());
    CHECK(r.engine->counters().groups == 19);  // one partial per count reached, sharing events
    CHECK(r.engine->save_state()["events"].size() == 19);  // each event once in the state
    r << exec(kT0 + 19, "a");
    REQUIRE(shells(r.alerts) == 1);
    CHECK(r.alerts.back().group->events.size() == 20);
    // Events of 4 KiB arguments for many users: held bytes stay near the cap.
    ProcessEvent big = exec(kT0 + 100, "a");
    big.args = {std::string(4096, 'x')};
    for (int i = 0; i < 200; ++i) {
        big.user.id = std::to_string(i);
        r << big;
    }
    CHECK(r.engine->counters().groups_evicted > 0);
    CHECK(r.engine->counters().groups < 200);
}

TEST_CASE("Sequence: partial sequences expire after the span; late events are counted", "[sequence]") {
    Run r(kAB);
    r << exec(kT0, "a") << exec(kT0 + 60'000, "x") << exec(kT0 + 60'001, "a", "5");
    r << exec(kT0 + 1000, "b");  // more than the span behind the latest: late
    CHECK(r.alerts.empty());
    CHECK(r.engine->counters().late == 1);
}

TEST_CASE("Sequence: partial sequences survive a save and restore", "[sequence]") {
    const char* q = "sequence by user.id with maxspan=10s [process where process.name == \"a\"] "
                    "[process where process.name == \"b\"] ![process where process.name == \"c\"]";
    Run first(q);
    ProcessEvent a = exec(kT0, "a");
    a.args = {"a", "\xff\x01 bytes"};
    first << a << exec(kT0 + 1, "a", "2") << exec(kT0 + 2, "b", "2");
    const nlohmann::json saved = first.engine->save_state();
    Run second(q);
    REQUIRE(second.engine->restore_state(nlohmann::json::parse(saved.dump())));
    CHECK(second.engine->counters().groups == 2);
    second << exec(kT0 + 3, "b");
    second.engine->finish(second.alerts);
    REQUIRE(shells(second.alerts) == 2);
    bool found = false;
    for (const Alert& al : second.alerts) {
        if (al.group_index == 0 && al.event->user.id == "0") {
            CHECK(al.event->args == a.args);
            found = true;
        }
    }
    CHECK(found);
    CHECK(second.engine->save_state()["keys"].empty());

    Run other(kAB);  // another rule's shape, or damage: start empty
    CHECK_FALSE(other.engine->restore_state(saved));
    nlohmann::json damaged = saved;
    damaged["events"][0]["kind"] = 9;
    CHECK_FALSE(second.engine->restore_state(damaged));
    damaged = saved;
    damaged["pending"][0]["seq"]["events"][0] = 99;  // no such event
    CHECK_FALSE(second.engine->restore_state(damaged));
    CHECK_FALSE(second.engine->restore_state(nlohmann::json{{"engine", "query"}}));
}

TEST_CASE("Sequence alerts: building blocks and a shell of the common fields", "[sequence]") {
    Run r(kAB);
    r << exec(kT0, "a") << exec(kT0 + 1000, "b");
    REQUIRE(r.alerts.size() == 3);
    const auto bb = nlohmann::json::parse(alert_to_json(r.alerts[1], kT0 + 5000));
    CHECK(bb["kibana.alert.building_block_type"] == "default");
    CHECK(bb["kibana.alert.group.index"] == 1);
    CHECK(bb["process"]["name"] == "b");
    CHECK(bb["kibana.alert.rule.type"] == "eql");
    const auto shell = nlohmann::json::parse(alert_to_json(r.alerts[2], kT0 + 5000));
    CHECK(shell["kibana.alert.group.id"] == bb["kibana.alert.group.id"]);
    CHECK_FALSE(shell.contains("kibana.alert.building_block_type"));
    CHECK_FALSE(shell.contains("kibana.alert.group.index"));
    CHECK(shell["kibana.alert.depth"] == 2);
    CHECK(shell["kibana.alert.ancestors"].size() == 4);
    CHECK(shell["kibana.alert.ancestors"][3]["id"] == bb["kibana.alert.uuid"]);
    CHECK(shell["kibana.alert.ancestors"][3]["depth"] == 1);
    CHECK(shell["kibana.alert.ancestors"][2]["type"] == "event");
    CHECK(shell["host"]["name"] == "host-one");   // common to both events
    CHECK(shell["user"]["id"] == "0");
    CHECK_FALSE(shell["process"].contains("name"));  // a and b differ
    CHECK(shell["event"]["kind"] == "signal");
    CHECK(shell["@timestamp"] == bb["@timestamp"]);
    CHECK(shell["kibana.alert.rule.rule_id"] == "s1");
    CHECK(shell["kibana.alert.uuid"] != bb["kibana.alert.uuid"]);
    CHECK_THAT(shell["kibana.alert.reason"].get<std::string>(),
               Catch::Contains("sequence of 2 events (process a, then process b)"));
}

TEST_CASE("Sequence rules: what can fire", "[sequence]") {
    CHECK(can_fire(*load(kAB)));
    const auto file = load("sequence [file where file.name == \"x\"] [process where process.name == \"b\"]");
    const auto reasons = cannot_fire_reasons(*file);
    REQUIRE(reasons.size() == 1);
    CHECK_THAT(reasons[0], Catch::Contains("term 1 is of EQL event category file"));
    // A missing term of another category does not stop it.
    CHECK(can_fire(*load("sequence with maxspan=1s [process where process.name == \"b\"] "
                         "![file where file.name == \"x\"]")));
    const auto keyed = load("sequence by process.entry_leader.entity_id [process where process.name == \"a\"] "
                            "[process where process.name == \"b\"]");
    CHECK_THAT(cannot_fire_reasons(*keyed).at(0), Catch::Contains("joins on process.entry_leader.entity_id"));
    CHECK(make_engine(load(kAB), {})->save_state()["engine"] == "sequence");
    const std::string text = explain_rule(*load(
        "sequence by user.id with maxspan=10s [process where process.name == \"a\"] by process.name with runs=3 "
        "![process where process.name == \"c\"] by process.name [process where process.name == \"b\"] by process.name "
        "until [process where process.name == \"stop\"] by ?process.name"));
    CHECK_THAT(text, Catch::Contains("sequence     sequence by user.id, maxspan 10 s"));
    CHECK_THAT(text, Catch::Contains("1. [process where process.name == \"a\"] by process.name with runs=3"));
    CHECK_THAT(text, Catch::Contains("2. ![process where process.name == \"c\"] by process.name"));
    CHECK_THAT(text, Catch::Contains("until        [process where process.name == \"stop\"] by ?process.name"));
    CHECK_THAT(text, Catch::Contains("per sequence found"));
}
