#include <catch2/catch.hpp>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/pipeline.h"
#include "tests/agent/replay_harness.h"
#include "tests/fleet_logs.h"

using scanwatch::agent::Pipeline;
using scanwatch::agent::PipelineOptions;
using scanwatch::test::as_node;
using scanwatch::test::interleave;
using scanwatch::test::read_sample;

namespace {

struct FleetRun {
    std::vector<nlohmann::json> alerts;
    nlohmann::json stats;
    std::string log;
};

PipelineOptions fleet_options(bool collector) {
    PipelineOptions o;
    o.normalizer.host_id = "collector-id";
    o.normalizer.host_name = "collector";
    o.rules = {scanwatch::test::builtin_rule()};
    o.collector = collector;
    return o;
}

FleetRun run(const std::string& text, const PipelineOptions& options) {
    FleetRun r;
    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* log = open_memstream(&buf, &len);
    {
        scanwatch::agent::Diagnostics diagnostics(log);
        Pipeline pipeline(
            options,
            [&](const scanwatch::rules::Alert& a) {
                r.alerts.push_back(nlohmann::json::parse(alert_to_json(a, 0)));
            },
            {}, diagnostics);
        pipeline.begin_source("-");
        pipeline.feed(text);
        pipeline.finish();
        r.stats = nlohmann::json::parse(pipeline.stats_json());
    }
    std::fclose(log);
    r.log.assign(buf, len);
    std::free(buf);
    return r;
}

std::vector<std::string> alert_hosts(const FleetRun& r) {
    std::vector<std::string> hosts;
    for (const auto& a : r.alerts) hosts.push_back(a["host"]["id"].get<std::string>());
    std::sort(hosts.begin(), hosts.end());
    return hosts;
}

std::string joined(const std::vector<std::string>& records) {
    std::string out;
    for (const auto& r : records) out += r;
    return out;
}

}  // namespace

TEST_CASE("Collector: a node whose clock is 600 s ahead leaves the others' detections alone",
          "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    const std::string noise = read_sample("noise.enriched.log");
    // The skewed, otherwise quiet host speaks first, then twelve hosts scan.
    std::string text = joined(as_node(noise, "ahead", 600));
    std::vector<std::vector<std::string>> scans;
    std::vector<std::string> expected;
    for (int i = 0; i < 12; ++i) {
        scans.push_back(as_node(scan, "scan-" + std::to_string(10 + i), i));
        expected.push_back("scan-" + std::to_string(10 + i));
    }
    text += interleave(scans);

    const FleetRun fleet = run(text, fleet_options(true));
    CHECK(alert_hosts(fleet) == expected);
    CHECK(fleet.stats["rules"][0]["late"] == 0);
    CHECK(fleet.stats["nodes"] == 13);
    CHECK(fleet.stats["execve_without_syscall"] == 0);

    // One watermark for all (not a collector): every scan is late behind the skewed clock.
    const FleetRun global = run(text, fleet_options(false));
    CHECK(global.alerts.size() < expected.size());
    CHECK(global.stats["rules"][0]["late"] > 0);
}

TEST_CASE("Collector: max_signals is per node, so 150 scanning nodes give 150 alerts", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    std::vector<std::vector<std::string>> scans;
    for (int i = 0; i < 150; ++i) scans.push_back(as_node(scan, "n" + std::to_string(i), 0));
    const std::string text = interleave(scans);

    const FleetRun fleet = run(text, fleet_options(true));
    CHECK(fleet.alerts.size() == 150);
    CHECK(fleet.stats["held_back"] == 0);

    const FleetRun global = run(text, fleet_options(false));
    CHECK(global.alerts.size() == 100);  // the rule's max_signals for the whole fleet
    CHECK(global.stats["held_back"] == 50);
}

TEST_CASE("Collector: nodes bounded; an evicted node's counts stay in the stats", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    std::vector<std::vector<std::string>> scans;
    for (int i = 0; i < 6; ++i) scans.push_back(as_node(scan, "n" + std::to_string(i), 0));
    PipelineOptions o = fleet_options(true);
    o.max_nodes = 3;
    // Sequential hosts: each node's scan completes before the next node starts.
    std::string text;
    for (const auto& s : scans) text += joined(s);
    const FleetRun r = run(text, o);
    CHECK(r.alerts.size() == 6);
    CHECK(r.stats["nodes"] == 3);
    CHECK(r.stats["nodes_evicted"] == 3);
    CHECK(r.stats["alerts"] == 6);
    CHECK(r.stats["nodes_assembling"] == 3);
}

TEST_CASE("Collector: records without node= are counted, not merged into a node", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    const std::string text =
        interleave({as_node(scan, "", 0), as_node(scan, "remote", 0)});
    const FleetRun r = run(text, fleet_options(true));
    const FleetRun alone = run(joined(as_node(scan, "", 0)), fleet_options(true));
    CHECK(r.stats["records_without_node"] == alone.stats["records_parsed"]);
    CHECK(alone.stats["records_without_node"] == alone.stats["records_parsed"]);
    CHECK(alert_hosts(r) == std::vector<std::string>{"collector-id", "remote"});
}

TEST_CASE("Collector: live skew is measured per node and reported", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    const long long first = 1795813416;  // the sample's first second
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    PipelineOptions o = fleet_options(true);
    o.live_clock = true;
    const std::string text = interleave({as_node(scan, "on-time", now - first),
                                         as_node(scan, "fast", now - first + 600)});
    const FleetRun r = run(text, o);
    CHECK(r.alerts.size() == 2);
    REQUIRE(r.stats["nodes_skewed"] == 1);
    CHECK(r.stats["skewed_nodes"][0]["node"] == "fast");
    CHECK(r.stats["skewed_nodes"][0]["skew_ms"].get<long long>() > 590'000);
    INFO(r.log);
    CHECK(std::regex_search(r.log, std::regex("node fast: clock (59[5-9]|60[0-5]) s ahead")));
    CHECK(r.log.find("on-time") == std::string::npos);
}

TEST_CASE("Collector: per-node state survives save and restore", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    const auto a = as_node(scan, "a", 0);
    const auto b = as_node(scan, "b", 0);
    const std::size_t half = a.size() / 2;
    const std::string first = interleave({{a.begin(), a.begin() + static_cast<long>(half)},
                                          {b.begin(), b.begin() + static_cast<long>(half)}});
    const std::string rest = interleave({{a.begin() + static_cast<long>(half), a.end()},
                                         {b.begin() + static_cast<long>(half), b.end()}});
    std::FILE* devnull = std::fopen("/dev/null", "w");
    scanwatch::agent::Diagnostics diagnostics(devnull);
    std::vector<std::string> hosts;
    const auto sink = [&](const scanwatch::rules::Alert& al) { hosts.push_back(al.host_name); };
    scanwatch::agent::PipelineState saved;
    {
        Pipeline p(fleet_options(true), sink, {}, diagnostics);
        p.feed(first);
        p.finish();
        saved = p.save_state();
    }
    CHECK(hosts.empty());
    CHECK(saved.rules.size() == 2);
    CHECK(saved.rules.count(scanwatch::test::builtin_rule()->fingerprint + "@a") == 1);
    Pipeline p(fleet_options(true), sink, {}, diagnostics);
    CHECK(p.restore_state(saved).empty());
    p.feed(rest);
    p.finish();
    std::sort(hosts.begin(), hosts.end());
    CHECK(hosts == std::vector<std::string>{"a", "b"});
    std::fclose(devnull);
}

TEST_CASE("NodeLanes: idle lanes retired oldest first, then the cap", "[fleet]") {
    using scanwatch::agent::NodeLane;
    std::vector<std::string> retired;
    scanwatch::agent::NodeLanes lanes(3, [&](NodeLane& l, bool) { retired.push_back(l.node); });
    const auto now = NodeLane::Clock::now();
    int made = 0;
    const auto make = [&](NodeLane&) { ++made; };
    lanes.lane("old", make).last_seen = now - std::chrono::minutes(20);
    lanes.lane("mid", make).last_seen = now - std::chrono::minutes(5);
    lanes.lane("new", make).last_seen = now;
    const NodeLane* mid = &lanes.lane("mid", make);
    CHECK(mid == &lanes.lanes().front());  // seen again: most recent
    lanes.lane("mid", make).last_seen = now;
    lanes.drop_idle(std::chrono::minutes(10));
    CHECK(retired == std::vector<std::string>{"old"});
    CHECK(lanes.counters().nodes_idle == 1);
    lanes.lane("x", make);
    lanes.lane("y", make);  // past the cap of 3: the least recently seen ("new") goes
    CHECK(retired == std::vector<std::string>{"old", "new"});
    CHECK(lanes.counters().nodes_evicted == 1);
    CHECK(lanes.counters().nodes == 3);
    CHECK(made == 5);
    lanes.clear();
    CHECK(retired.size() == 5);
}

// Scheduled runs on a quiet collector (docs/fleet.md): each node's event time moves on from its
// own latest event. Node b's clock is an hour ahead; with one clock for all nodes its time would
// make node a's pending run due at once.
TEST_CASE("Collector: a quiet node's scheduled run comes on its own clock, not a skewed node's",
          "[fleet][scheduled]") {
    PipelineOptions options = fleet_options(true);
    options.engine.evaluation = scanwatch::rules::Evaluation::scheduled;
    std::string text;
    for (const auto& r : as_node(read_sample("ping_sweep.enriched.log"), "a", 0)) text += r;
    for (const auto& r : as_node(read_sample("noise.enriched.log"), "b", 3600)) text += r;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    std::vector<nlohmann::json> alerts;
    {
        scanwatch::agent::Diagnostics diagnostics(devnull);
        Pipeline pipeline(
            options,
            [&](const scanwatch::rules::Alert& a) {
                alerts.push_back(nlohmann::json::parse(alert_to_json(a, 0)));
            },
            {}, diagnostics);
        pipeline.begin_source("-");
        pipeline.feed(text);
        pipeline.age();
        REQUIRE(alerts.empty());
        // Just after the input went quiet, less the assembly lag: node a's run is not due yet,
        // though node b's clock is an hour past it.
        CHECK(pipeline.advance_nodes(3000) == 0);
        CHECK(alerts.empty());
        // Ten minutes later on node a's clock (a negative lag stands for time passing).
        CHECK(pipeline.advance_nodes(-10 * 60 * 1000) == 1);
        REQUIRE(alerts.size() == 1);
        CHECK(alerts[0]["host"]["id"] == "a");
        pipeline.finish();
        CHECK(alerts.size() == 1);
    }
    std::fclose(devnull);
}

namespace {

// The records of the first successful exec of `records` (one node's log).
std::vector<std::string> first_exec(const std::vector<std::string>& records) {
    static const std::regex stamp(R"(msg=audit\(([^)]*)\))");
    std::string exec_stamp;
    for (const auto& r : records) {
        std::smatch m;
        if (r.find("syscall=59 success=yes") != std::string::npos &&
            std::regex_search(r, m, stamp)) {
            exec_stamp = m[1];
            break;
        }
    }
    std::vector<std::string> out;
    for (const auto& r : records) {
        if (r.find("msg=audit(" + exec_stamp + ")") != std::string::npos) out.push_back(r);
    }
    return out;
}

}  // namespace

// One sender invents node names in the middle of a real node's sweep: each of its one-exec
// nodes used to push the least recently seen lane out, the sweeping node's among them.
TEST_CASE("Collector: invented node names do not evict a node near its threshold", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    const auto victim = as_node(scan, "victim", 0);
    const std::size_t half = victim.size() / 2;
    std::string text = joined({victim.begin(), victim.begin() + static_cast<long>(half)});
    for (int i = 0; i < 2100; ++i) {
        text += joined(first_exec(as_node(scan, "fake-" + std::to_string(i), 0)));
    }
    text += joined({victim.begin() + static_cast<long>(half), victim.end()});

    const FleetRun r = run(text, fleet_options(true));
    CHECK(alert_hosts(r) == std::vector<std::string>{"victim"});
    CHECK(r.stats["nodes_evicted"] == 2100 + 1 - 2048);
    // The invented nodes each hold a group (one value): dropping them is said, rate-limited.
    CHECK(r.stats["nodes_evicted_with_state"] == 2100 + 1 - 2048);
    INFO(r.log);
    CHECK(r.log.find("node victim") == std::string::npos);
    CHECK(r.log.find("node fake-0: detection state dropped") != std::string::npos);
    CHECK(std::count(r.log.begin(), r.log.end(), '\n') <= 6);
}

TEST_CASE("NodeLanes: the lane nearest a threshold goes last, then the one with most events",
          "[fleet]") {
    using scanwatch::agent::NodeLane;
    std::vector<std::pair<std::string, bool>> retired;
    scanwatch::agent::NodeLanes lanes(3, [&](NodeLane& l, bool with_state) {
        retired.emplace_back(l.node, with_state);
    });
    const auto make = [](NodeLane&) {};
    lanes.lane("near", make).nearest_permille = 700;
    lanes.lane("busy", make).events = 50;
    lanes.lane("one", make).events = 1;
    lanes.lane("new", make);  // "near" is least recently seen, "one" can least matter
    lanes.lane("new2", make);  // then "new" (no events)
    lanes.lane("new3", make).events = 100;  // then "new2"
    lanes.lane("new4", make);  // then "busy" (fewer events than new3); "near" stays
    REQUIRE(retired.size() == 4);
    CHECK(retired[0].first == "one");
    CHECK(retired[1].first == "new");
    CHECK(retired[2].first == "new2");
    CHECK(retired[3].first == "busy");
    CHECK(retired[0].second == false);  // no engines, no groups
    CHECK(lanes.counters().nodes_evicted == 4);
}

// Without --collector all nodes share one clock: said once, naming two of them.
TEST_CASE("Collector: a second node without --collector is reported once", "[fleet]") {
    const std::string scan = read_sample("ping_sweep.enriched.log");
    const std::string text = interleave({as_node(scan, "a", 0), as_node(scan, "b", 0),
                                         as_node(scan, "c", 0)});
    const FleetRun global = run(text, fleet_options(false));
    INFO(global.log);
    CHECK(global.log.find("more than one node (a, b) without --collector") != std::string::npos);
    CHECK(std::count(global.log.begin(), global.log.end(), '\n') == 1);
    const FleetRun one = run(joined(as_node(scan, "a", 0)), fleet_options(false));
    CHECK(one.log.empty());
    const FleetRun fleet = run(text, fleet_options(true));
    CHECK(fleet.log.find("--collector") == std::string::npos);
}
