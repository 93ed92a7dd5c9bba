#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agent/sources/checkpoint.h"
#include "agent/pipeline.h"
#include "tests/agent/replay_harness.h"

using scanwatch::agent::CheckpointTracker;
using scanwatch::agent::FileId;
using scanwatch::agent::kMaxSkipKeys;

TEST_CASE("Checkpoint: resume at the first record of the earliest event in flight",
          "[checkpoint]") {
    CheckpointTracker t;
    t.begin_file(FileId{1, 10});
    t.on_record("a", 0);
    t.on_record("b", 100);  // b starts, then a ends, then b goes on
    t.on_record("a", 200);
    CHECK(t.on_event("a"));  // a done; b still in flight from 100
    t.on_record("c", 300);
    CHECK(t.on_event("c"));
    const auto at = t.resume_position(400);
    CHECK(at.file == FileId{1, 10});
    CHECK(at.offset == 100);
    // a's records reach 200 > 100: a restart at 100 reads a line of it again, so it is skipped;
    // so is c. Nothing is in flight but b.
    auto skip = t.done_since_resume(400);
    std::sort(skip.begin(), skip.end());
    CHECK(skip == std::vector<std::string>{"a", "c"});
    CHECK(t.in_flight() == 1);
    CHECK(t.on_event("b"));
    CHECK(t.resume_position(400).offset == 400);  // nothing in flight: where handled input ends
}

TEST_CASE("Checkpoint: a position in an older file survives a switch to the next", "[checkpoint]") {
    CheckpointTracker t;
    t.begin_file(FileId{1, 10});
    t.on_record("a", 50);
    t.begin_file(FileId{1, 11});  // rotated while a is in flight
    t.on_record("b", 0);
    CHECK(t.on_event("b"));
    const auto at = t.resume_position(80);
    CHECK(at.file == FileId{1, 10});
    CHECK(at.offset == 50);
    CHECK(t.done_since_resume(80) == std::vector<std::string>{"b"});
}

TEST_CASE("Checkpoint: events done before a restart are skipped once each", "[checkpoint]") {
    CheckpointTracker t;
    t.set_skip({"a", "b"});
    t.begin_file(FileId{1, 10});
    t.on_record("a", 0);
    CHECK_FALSE(t.on_event("a"));
    t.on_record("a", 0);  // the same key again later is a new event
    CHECK(t.on_event("a"));
    // b has not come by yet: it still applies after the next restart.
    CHECK(t.done_since_resume(10) == std::vector<std::string>{"b"});
}

TEST_CASE("Checkpoint: the skip list is bounded while one event stays in flight", "[checkpoint]") {
    CheckpointTracker t;
    t.begin_file(FileId{1, 10});
    t.on_record("stuck", 0);
    const std::size_t n = kMaxSkipKeys + 10;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string key = "e" + std::to_string(i);
        t.on_record(key, 10 + i);
        t.on_event(key);
    }
    const auto skip = t.done_since_resume(10 + n);
    CHECK(skip.size() == kMaxSkipKeys);
    CHECK(t.skips_dropped() == 10);
    CHECK(skip.front() == "e10");  // the oldest were dropped
    std::vector<std::string> too_many(kMaxSkipKeys + 5, "x");
    for (std::size_t i = 0; i < too_many.size(); ++i) too_many[i] += std::to_string(i);
    CheckpointTracker u;
    u.set_skip(too_many);
    CHECK(u.done_since_resume(0).size() == kMaxSkipKeys);
}

namespace {

struct Half {
    std::vector<std::string> alerts;
    std::vector<std::string> events;
};

std::unique_ptr<scanwatch::agent::Pipeline> make_pipeline(Half& out,
                                                          scanwatch::agent::Diagnostics& d) {
    scanwatch::agent::PipelineOptions options;
    options.normalizer.host_id = "sample-host-id";
    options.normalizer.host_name = "sample-host";
    options.rules.push_back(scanwatch::test::builtin_rule());
    return std::make_unique<scanwatch::agent::Pipeline>(
        options,
        [&out](const scanwatch::rules::Alert& a) { out.alerts.push_back(alert_to_json(a, 0)); },
        [&out](const scanwatch::ProcessEvent& e) { out.events.push_back(e.event_id()); }, d);
}

}  // namespace

TEST_CASE("Checkpoint: a pipeline saved mid-scan and restored gives each event and the alert once",
          "[checkpoint]") {
    std::ifstream in(SCANWATCH_SOURCE_DIR "/samples/ping_sweep.enriched.log", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::FILE* devnull = std::fopen("/dev/null", "w");
    scanwatch::agent::Diagnostics diagnostics(devnull);

    Half whole;
    {
        auto p = make_pipeline(whole, diagnostics);
        p->begin_source("log");
        p->feed(text);
        p->finish();
    }
    REQUIRE(whole.alerts.size() == 1);

    // First run: half the log, cut inside a line; saved, then gone without finishing.
    Half first;
    scanwatch::agent::Checkpoint saved;
    {
        auto p = make_pipeline(first, diagnostics);
        scanwatch::agent::PipelineCheckpointer c(*p);
        c.begin_file("log", FileId{1, 10}, 0);
        p->feed(std::string_view(text).substr(0, text.size() / 2));
        saved = c.save();
    }
    CHECK(saved.position.file == FileId{1, 10});
    CHECK(saved.position.offset < text.size() / 2);
    CHECK_FALSE(saved.pipeline.rules.empty());
    // Second run: restored, reads from the saved offset.
    Half second;
    {
        auto p = make_pipeline(second, diagnostics);
        scanwatch::agent::PipelineCheckpointer c(*p);
        CHECK(c.restore(saved).empty());
        c.begin_file("log", FileId{1, 10}, saved.position.offset);
        p->feed(std::string_view(text).substr(saved.position.offset));
        p->finish();
    }
    std::fclose(devnull);
    std::vector<std::string> events = first.events;
    events.insert(events.end(), second.events.begin(), second.events.end());
    std::sort(events.begin(), events.end());
    std::vector<std::string> want = whole.events;
    std::sort(want.begin(), want.end());
    CHECK(events == want);
    CHECK(first.alerts.size() + second.alerts.size() == 1);
}
