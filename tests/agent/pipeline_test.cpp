#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "agent/pipeline.h"
#include "rules/rule.h"
#include "rules/rule_loader.h"
#include "tests/agent/replay_harness.h"

using scanwatch::agent::Pipeline;
using scanwatch::agent::PipelineOptions;

namespace {

std::string sample(const std::string& name) {
    std::ifstream in(std::string(SCANWATCH_SOURCE_DIR "/samples/") + name, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// A log as auditd's dispatcher sends it: each event's records, then its EOE record.
std::string with_eoe(const std::string& log) {
    static const std::regex stamp(R"(msg=audit\(\d+\.\d+:\d+\))");
    std::istringstream in(log);
    std::string out;
    std::string line;
    std::string current;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, stamp)) continue;
        if (!current.empty() && m.str() != current) out += "type=EOE " + current + ": \n";
        current = m.str();
        out += line + "\n";
    }
    if (!current.empty()) out += "type=EOE " + current + ": \n";
    return out;
}

struct Run {
    std::vector<std::string> alerts;
    std::vector<std::string> titles;
    scanwatch::agent::PipelineStats stats;
    bool skipped = false;
};

Run run(const std::string& text, bool dispatcher, bool with_events,
        std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> rules = {
            scanwatch::test::builtin_rule()}) {
    Run r;
    PipelineOptions options;
    options.normalizer.host_id = "sample-host-id";
    options.normalizer.host_name = "sample-host";
    options.events_end_with_eoe = dispatcher;
    options.rules = std::move(rules);
    std::FILE* devnull = std::fopen("/dev/null", "w");
    {
        scanwatch::agent::Diagnostics diagnostics(devnull);
        Pipeline pipeline(
            options, [&](const scanwatch::rules::Alert& a) { r.alerts.push_back(alert_to_json(a, 0)); },
            with_events ? Pipeline::EventSink([&](const scanwatch::ProcessEvent& e) { r.titles.push_back(e.title); })
                        : Pipeline::EventSink{},
            diagnostics);
        r.skipped = pipeline.skips_proctitles();
        pipeline.begin_source("-");
        pipeline.feed(text);
        pipeline.finish();
        r.stats = pipeline.stats();
    }
    std::fclose(devnull);
    return r;
}

std::shared_ptr<const scanwatch::rules::RuleDefinition> title_rule() {
    std::string text(scanwatch::rules::builtin_rule_text());
    const std::string from = "event.type:start and";
    text.replace(text.find(from), from.size(), "event.type:start and process.title:* and");
    auto loaded = scanwatch::rules::load_rule(text, "title-rule");
    REQUIRE(std::holds_alternative<std::shared_ptr<const scanwatch::rules::RuleDefinition>>(loaded));
    return std::get<std::shared_ptr<const scanwatch::rules::RuleDefinition>>(loaded);
}

}  // namespace

TEST_CASE("Pipeline: a dispatcher stream skips PROCTITLE before auparse, alerts unchanged", "[pipeline]") {
    const std::string log = sample("ping_sweep.enriched.log");
    const std::string stream = with_eoe(log);
    const Run replayed = run(log, false, false);
    const Run skipping = run(stream, true, false);
    const Run keeping = run(stream, false, false);
    CHECK(skipping.skipped);
    CHECK_FALSE(keeping.skipped);
    REQUIRE(replayed.alerts.size() == 1);
    CHECK(skipping.alerts == replayed.alerts);
    CHECK(keeping.alerts == replayed.alerts);
    const std::size_t proctitles = count_of(log, "type=PROCTITLE");
    CHECK(proctitles > 100);
    // The capture opens with auditd's DAEMON_START event, whose EOE comes before any PROCTITLE.
    CHECK(skipping.stats.filter.proctitles_skipped == proctitles);
    // Keeping, the PROCTITLE of an event whose SYSCALL was skipped is skipped with its event
    // (records_of_skipped_events); skipping, it counts as a PROCTITLE skipped.
    const std::uint64_t proctitles_of_skipped_events =
        keeping.stats.filter.records_of_skipped_events - skipping.stats.filter.records_of_skipped_events;
    CHECK(proctitles_of_skipped_events > 0);
    CHECK(skipping.stats.filter.records_skipped ==
          keeping.stats.filter.records_skipped + proctitles - proctitles_of_skipped_events);
    CHECK(keeping.stats.filter.proctitles_skipped == 0);
}

TEST_CASE("Pipeline: PROCTITLE stays where something reads process.title or no EOE comes", "[pipeline]") {
    const std::string log = sample("ping_sweep.enriched.log");
    const std::string stream = with_eoe(log);
    // Events exported: they carry process.title.
    const Run exported = run(stream, true, true);
    CHECK_FALSE(exported.skipped);
    REQUIRE(!exported.titles.empty());
    CHECK(exported.titles.back().rfind("ping ", 0) == 0);
    // A rule that reads process.title.
    const Run titled = run(stream, true, false, {title_rule()});
    CHECK_FALSE(titled.skipped);
    CHECK(titled.alerts.size() == 1);
    // A dispatcher stream without EOE records (a log piped in): PROCTITLE completes the events.
    const Run piped = run(log, true, false);
    CHECK(piped.skipped);
    CHECK(piped.stats.filter.records_skipped == run(log, false, false).stats.filter.records_skipped);
    CHECK(piped.stats.filter.proctitles_skipped == 0);
}

TEST_CASE("Pipeline: reloaded rules decide again whether PROCTITLE is needed", "[pipeline]") {
    PipelineOptions options;
    options.normalizer.host_id = "h";
    options.normalizer.host_name = "h";
    options.events_end_with_eoe = true;
    options.rules = {scanwatch::test::builtin_rule()};
    std::FILE* devnull = std::fopen("/dev/null", "w");
    {
        scanwatch::agent::Diagnostics diagnostics(devnull);
        Pipeline pipeline(options, [](const scanwatch::rules::Alert&) {}, {}, diagnostics);
        CHECK(pipeline.skips_proctitles());
        pipeline.set_rules({scanwatch::test::builtin_rule(), title_rule()}, options.engine);
        CHECK_FALSE(pipeline.skips_proctitles());
        pipeline.set_rules({scanwatch::test::builtin_rule()}, options.engine);
        CHECK(pipeline.skips_proctitles());
    }
    std::fclose(devnull);
}

namespace {

std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> all_builtin_rules() {
    std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> rules;
    for (const std::string_view text : scanwatch::rules::builtin_rule_texts()) {
        rules.push_back(scanwatch::rules::builtin_rule(text));
    }
    return rules;
}

}  // namespace

TEST_CASE("Pipeline: in a log, a PROCTITLE nothing reads ends its event as an EOE, alerts unchanged",
          "[pipeline]") {
    for (const char* name : {"ping_sweep.enriched.log", "xargs_parallel_ping.enriched.log"}) {
        INFO(name);
        const std::string log = sample(name);
        const Run plain = run(log, false, false);
        const Run exported = run(log, false, true);  // events carry process.title: kept
        // One event in flight at a time in these logs: each ends by completing it at once.
        CHECK(plain.stats.filter.proctitles_flushed > 100);
        CHECK(exported.stats.filter.proctitles_flushed + exported.stats.filter.proctitles_as_eoe == 0);
        REQUIRE(!plain.alerts.empty());
        CHECK(plain.alerts == exported.alerts);
        CHECK(plain.stats.events == exported.stats.events);
        CHECK(plain.stats.normalizer.execs == exported.stats.normalizer.execs);
        CHECK(plain.stats.normalizer.bad_proctitle == 0);
        CHECK(plain.stats.filter.records_fed + plain.stats.filter.proctitles_flushed ==
              exported.stats.filter.records_fed);
        CHECK(plain.stats.filter.records_skipped == exported.stats.filter.records_skipped);
        CHECK(plain.stats.filter.proctitles_skipped == 0);
        REQUIRE(!exported.titles.empty());
        CHECK(std::count_if(exported.titles.begin(), exported.titles.end(), [](const std::string& t) {
                  return t.find("ping ") != std::string::npos;
              }) > 100);
        // A rule that reads process.title keeps every PROCTITLE.
        const Run titled = run(log, false, false, {title_rule()});
        CHECK(titled.stats.filter.proctitles_as_eoe + titled.stats.filter.proctitles_flushed == 0);
        CHECK(titled.alerts.size() == 1);
        // The log given twice: each record of a stamp already completed starts a new event, as
        // after a PROCTITLE.
        const Run twice = run(log + log, false, false);
        const Run twice_exported = run(log + log, false, true);
        CHECK(twice.stats.events == 2 * plain.stats.events);
        CHECK(twice.stats.events == twice_exported.stats.events);
        CHECK(twice.alerts == twice_exported.alerts);
    }
}

TEST_CASE("Pipeline: the title of an event a non-threshold rule's alert copies is kept", "[pipeline]") {
    // Built-in raw-socket rule: a query rule on network events, whose alerts copy the event.
    const std::string log = sample("net_nmap_syn.enriched.log");
    const auto rules = all_builtin_rules();
    const Run plain = run(log, false, false, rules);
    const Run exported = run(log, false, true, rules);
    std::size_t socket_alerts = 0;
    for (const auto& alert : plain.alerts) {
        if (alert.find("created-socket") == std::string::npos) continue;
        ++socket_alerts;
        CHECK(alert.find("\"title\":\"nmap ") != std::string::npos);
    }
    CHECK(socket_alerts > 0);
    CHECK(plain.alerts == exported.alerts);
    // The exec events' titles nobody reads still end their events as EOE.
    CHECK(plain.stats.filter.proctitles_flushed > 0);
    // A dispatcher stream skips only the PROCTITLEs nobody reads: the alerts are the replay's.
    const Run dispatched = run(with_eoe(log), true, false, rules);
    CHECK(dispatched.skipped);
    CHECK(dispatched.stats.filter.proctitles_skipped > 0);
    CHECK(dispatched.stats.filter.proctitles_skipped < count_of(log, "type=PROCTITLE"));
    CHECK(dispatched.alerts == plain.alerts);
}

TEST_CASE("Pipeline: titles nobody reads end each node's events, interleaved or not", "[pipeline]") {
    // Several nodes' records interleaved (a collector's log): each node's feed is completed on
    // its own, and events two of a node in flight at once end with an EOE record.
    std::string log = sample("multihost.node.log");
    const Run plain = run(log, false, false);
    const Run exported = run(log, false, true);
    CHECK(plain.stats.filter.proctitles_flushed > 0);
    CHECK(plain.alerts == exported.alerts);
    CHECK(plain.stats.events == exported.stats.events);
    CHECK(plain.stats.normalizer.execs == exported.stats.normalizer.execs);
    // Two events of one host in flight at once: the first PROCTITLE goes on as an EOE.
    const std::string a = "type=SYSCALL msg=audit(1700000000.001:1): arch=c000003e syscall=59 success=yes "
                          "exit=0 ppid=1 pid=2 uid=0 comm=\"ping\" exe=\"/usr/bin/ping\" key=(null)\n";
    const std::string b = "type=SYSCALL msg=audit(1700000000.001:2): arch=c000003e syscall=59 success=yes "
                          "exit=0 ppid=1 pid=3 uid=0 comm=\"ping\" exe=\"/usr/bin/ping\" key=(null)\n";
    const std::string title_a = "type=PROCTITLE msg=audit(1700000000.001:1): proctitle=70696E67\n";
    const std::string title_b = "type=PROCTITLE msg=audit(1700000000.001:2): proctitle=70696E67\n";
    const Run interleaved = run(a + b + title_a + title_b, false, false);
    CHECK(interleaved.stats.filter.proctitles_as_eoe == 1);
    CHECK(interleaved.stats.filter.proctitles_flushed == 1);
    CHECK(interleaved.stats.events == 2);
    CHECK(interleaved.stats.normalizer.execs == 2);
    const Run interleaved_exported = run(a + b + title_a + title_b, false, true);
    CHECK(interleaved_exported.stats.events == 2);
    REQUIRE(interleaved_exported.titles.size() == 2);
    CHECK(interleaved_exported.titles[0] == "ping");
}
