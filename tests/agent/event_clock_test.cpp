#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "agent/pipeline.h"
#include "agent/sources/runner.h"
#include "tests/agent/replay_harness.h"

using scanwatch::agent::EventClock;
using scanwatch::agent::Pipeline;
using scanwatch::agent::PipelineOptions;

namespace {

constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();

std::string read_sample(const std::string& name) {
    std::ifstream in(std::string(SCANWATCH_SOURCE_DIR "/samples/") + name, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("Event clock: the latest event's time plus the time since it came, less the lag", "[clock]") {
    EventClock clock(3000);
    CHECK(clock.now(0, 50'000) == kNone);  // no event yet: nothing to move on
    CHECK(clock.now(1'000'000, 60'000) == 997'000);
    CHECK(clock.now(1'000'000, 70'500) == 1'007'500);  // quiet for 10.5 s
    // A new latest event re-anchors: a backlog read fast (old times) is not overtaken.
    CHECK(clock.now(1'001'000, 70'600) == 998'000);
    CHECK(clock.now(1'001'000, 71'600) == 999'000);
}

// A host that goes quiet right after a sweep: no event comes after the run time to make the run
// due. The runner's timer moves event time on and the alert comes at the run time plus the lag,
// the same alert a replay (whose end of input does the run) gives.
TEST_CASE("Event clock: a scheduled run on a quiet input happens on time, driven by the timer", "[clock][scheduled]") {
    scanwatch::rules::EngineOptions engine;
    engine.evaluation = scanwatch::rules::Evaluation::scheduled;
    const auto replayed = scanwatch::test::replay_with_rules(
        {SCANWATCH_SOURCE_DIR "/samples/ping_sweep.enriched.log"}, {scanwatch::test::builtin_rule()},
        engine);
    REQUIRE(replayed.alerts.size() == 1);

    PipelineOptions options;
    options.normalizer.host_id = "sample-host-id";
    options.normalizer.host_name = "sample-host";
    options.engine = engine;
    options.rules = {scanwatch::test::builtin_rule()};
    std::FILE* devnull = std::fopen("/dev/null", "w");
    std::vector<std::string> alerts;
    {
        scanwatch::agent::Diagnostics diagnostics(devnull);
        Pipeline pipeline(
            options,
            [&](const scanwatch::rules::Alert& a) { alerts.push_back(alert_to_json(a, 0)); },
            Pipeline::EventSink{}, diagnostics);
        pipeline.begin_source("-");
        pipeline.feed(read_sample("ping_sweep.enriched.log"));
        pipeline.age();  // live modes age on the timer; the last event completes here or at finish
        const std::int64_t last = pipeline.last_event_ms();
        REQUIRE(last > 0);
        const std::int64_t interval = 5 * 60 * 1000;  // the built-in rule's
        const std::int64_t run = (last / interval + 1) * interval;
        CHECK(alerts.empty());

        // One tick a second of steady time from when the last event came, as Runner does.
        EventClock clock(3000);
        std::int64_t steady = 0;
        std::int64_t alerted_at = -1;
        for (; steady <= interval + 10'000 && alerted_at < 0; steady += 1000) {
            pipeline.age();
            if (pipeline.advance(clock.now(pipeline.last_event_ms(), steady)) > 0) alerted_at = steady;
        }
        REQUIRE(alerts.size() == 1);
        // Due once event time passes the run: at run + lag, within a tick.
        CHECK(alerted_at > run - last + 3000 - 1000);
        CHECK(alerted_at <= run - last + 3000 + 1000);
        CHECK(alerts[0] == replayed.alerts[0]);
        pipeline.finish();
        CHECK(alerts.size() == 1);  // the end of input finds the run done
    }
    std::fclose(devnull);
}
