// A pid flood in the middle of a sweep (docs/operations.md, "Memory bounds"): execs of distinct
// pids, each from a fresh parent, used to push the sweep's parent out of the entity-id table; its
// entity id changed and the sweep's group split in two, neither reaching the threshold.

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/pipeline.h"
#include "tests/agent/replay_harness.h"

using scanwatch::agent::Pipeline;
using scanwatch::agent::PipelineOptions;

namespace {

constexpr std::size_t kTable = 2048;  // --max-processes, small to keep the test quick
constexpr long long kT0 = 1795813416;
constexpr const char* kUnset = "4294967295";

std::string exec(std::string_view node, long long t_ms, std::uint64_t serial, long long ppid,
                 long long pid, std::string_view target) {
    const std::string stamp = fmt::format("{}.{:03}:{}", t_ms / 1000, t_ms % 1000, serial);
    return fmt::format(
        "{0}type=SYSCALL msg=audit({1}): arch=c000003e syscall=59 success=yes exit=0 items=1 "
        "ppid={2} pid={3} auid={4} uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=(none) ses={4} comm=\"ping\" exe=\"/usr/bin/ping\" key=\"scan\"\n"
        "{0}type=EXECVE msg=audit({1}): argc=4 a0=\"ping\" a1=\"-c\" a2=\"1\" a3=\"{5}\"\n"
        "{0}type=CWD msg=audit({1}): cwd=\"/\"\n"
        "{0}type=EOE msg=audit({1}): \n",
        node, stamp, ppid, pid, kUnset, target);
}

// A 150-target sweep on `sweep_node` by one parent outside any session; after its 75th exec,
// `flood` execs on `flood_node` of distinct pids, each from a parent of its own (pid_max
// 4,194,304 leaves room for both), all of one target: churn, not a sweep of their own.
std::string sweep_with_flood(std::string_view sweep_node, std::string_view flood_node,
                             std::size_t flood) {
    std::string text;
    std::uint64_t serial = 1000;
    for (int i = 0; i < 150; ++i) {
        text += exec(sweep_node, (kT0 + i) * 1000, serial++, 31500, 31600 + i,
                     fmt::format("10.0.{}.{}", i / 256, i % 256));
        if (i != 75) continue;
        for (std::size_t j = 0; j < flood; ++j) {
            const auto k = static_cast<long long>(j);
            text += exec(flood_node, (kT0 + i) * 1000 + k % 1000, serial++, 100000 + 2 * k,
                         100001 + 2 * k, "172.16.0.1");
        }
    }
    return text;
}

struct FloodRun {
    std::size_t alerts = 0;
    std::string grouped_on;  // the term fields of the last alert, space-separated
    nlohmann::json stats;
};

FloodRun run(const std::string& text, PipelineOptions options) {
    options.normalizer.host_id = "host-id";
    options.normalizer.host_name = "host";
    options.normalizer.max_processes = kTable;
    options.rules = {scanwatch::test::builtin_rule()};
    FloodRun r;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    {
        scanwatch::agent::Diagnostics diagnostics(devnull);
        Pipeline pipeline(options, [&](const scanwatch::rules::Alert& a) {
                              ++r.alerts;
                              r.grouped_on.clear();
                              for (const auto& t : a.terms) r.grouped_on += t.first + " ";
                          }, {},
                          diagnostics);
        pipeline.begin_source("-");
        pipeline.feed(text);
        pipeline.finish();
        r.stats = nlohmann::json::parse(pipeline.stats_json());
    }
    std::fclose(devnull);
    return r;
}

}  // namespace

TEST_CASE("Pid flood: a sweep's parent outlives a flood of fresh parents, elastic profile",
          "[pid-flood]") {
    PipelineOptions o;
    o.engine.session_grouping = false;
    o.engine.name_match = scanwatch::rules::NameMatch::comm;
    const FloodRun r = run(sweep_with_flood("", "", kTable), o);
    CHECK(r.stats["processes_evicted"].get<std::uint64_t>() > kTable);
    CHECK(r.alerts == 1);
}

TEST_CASE("Pid flood: a sweep's parent outlives a flood, hardened profile with ses unset",
          "[pid-flood]") {
    // Daemons, cron jobs and a reverse shell started by a service have no session: the sweep
    // groups by its parent's entity id, as in the elastic profile.
    const FloodRun r = run(sweep_with_flood("", "", kTable), PipelineOptions{});
    CHECK(r.stats["processes_evicted"].get<std::uint64_t>() > kTable);
    CHECK(r.alerts == 1);
    // The parent's own group, not a fallback grouping that hides the split.
    CHECK(r.grouped_on == "host.id process.parent.entity_id process.executable ");
}

TEST_CASE("Pid flood: on a collector, another node's flood leaves a node's processes alone",
          "[pid-flood][fleet]") {
    PipelineOptions o;
    o.collector = true;
    const FloodRun r = run(sweep_with_flood("node=victim ", "node=flooder ", 2 * kTable), o);
    CHECK(r.stats["processes_evicted"].get<std::uint64_t>() > kTable);
    CHECK(r.alerts == 1);
    // The flooder's own sweep-free flood makes no alert; the victim's is the one.
}
