#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "parsers/event_key.h"
#include "parsers/node_feed.h"
#include "tests/fleet_logs.h"

using scanwatch::parsers::AuparseFeed;
using scanwatch::parsers::NodeFeeds;
using scanwatch::test::as_node;
using scanwatch::test::interleave;
using scanwatch::test::read_sample;

namespace {

// Two hosts' records one by one, the second host's clock 10 s ahead: the end-of-event timeout
// (2 s) of one auparse state closes the first host's events before their records are in.
std::string two_hosts() {
    const std::string log = read_sample("ping_sweep.enriched.log");
    return interleave({as_node(log, "alpha", 0), as_node(log, "beta", 10)});
}

// What one host's log alone gives (its distinct stamps, and an event auparse splits on its own).
std::size_t distinct_events() {
    const std::string log = read_sample("ping_sweep.enriched.log");
    std::string text;
    for (const auto& r : as_node(log, "alpha", 0)) text += r;
    AuparseFeed alone([](auparse_state_t*) {});
    alone.feed(text);
    alone.flush();
    return alone.events();
}

}  // namespace

TEST_CASE("record_node: the node= name a record starts with", "[node_feed]") {
    CHECK(scanwatch::parsers::record_node("node=web-1 type=SYSCALL msg=audit(1.2:3): x\n") == "web-1");
    CHECK(scanwatch::parsers::record_node("type=SYSCALL msg=audit(1.2:3): x\n").empty());
    CHECK(scanwatch::parsers::record_node("node=solo").substr(0) == "solo");
}

TEST_CASE("NodeFeeds: interleaved hosts never split each other's events", "[node_feed]") {
    const std::string text = two_hosts();
    const std::size_t per_host = distinct_events();

    std::set<std::string> one_state;
    std::uint64_t one_state_events = 0;
    {
        AuparseFeed single([&](auparse_state_t* au) {
            one_state.insert(scanwatch::parsers::event_key(au));
            ++one_state_events;
        });
        single.feed(text);
        single.flush();
    }
    // What libauparse does with one state: events completed early, then their late records
    // become events of their own (the bug this class exists for).
    INFO("one auparse state: " << one_state_events << " events");
    CHECK(one_state_events > 2 * per_host);

    std::uint64_t events = 0;
    std::set<std::string> keys;
    NodeFeeds feeds(
        [&](auparse_state_t* au) {
            keys.insert(scanwatch::parsers::event_key(au));
            ++events;
        },
        16);
    feeds.feed(text);
    feeds.flush();
    CHECK(events == 2 * per_host);
    CHECK(keys.size() >= 2 * per_host - 2);
    CHECK(feeds.events() == 2 * per_host);
    CHECK(feeds.counters().nodes == 2);
    CHECK(feeds.counters().records_without_node == 0);
}

TEST_CASE("NodeFeeds: bounded nodes; the evicted node's events complete, none lost", "[node_feed]") {
    const std::string log = read_sample("noise.enriched.log");
    std::vector<std::vector<std::string>> logs;
    for (int i = 0; i < 5; ++i) logs.push_back(as_node(log, "n" + std::to_string(i), i));
    logs.push_back(as_node(log, "", 0));
    std::uint64_t events = 0;
    NodeFeeds feeds([&](auparse_state_t*) { ++events; }, 2);
    feeds.feed(interleave(logs));
    feeds.flush();
    CHECK(feeds.counters().nodes == 2);
    CHECK(feeds.counters().nodes_evicted > 0);
    CHECK(feeds.counters().records_without_node == logs.back().size());
    CHECK(feeds.events() == events);
    // Each node's events are complete whatever the eviction: six logs, as many events as one
    // log has, per log (an evicted node comes back with a fresh state for its later records,
    // which may then begin mid-event: at least the one-log count each).
    NodeFeeds alone([](auparse_state_t*) {}, 1);
    alone.feed(interleave({logs[0]}));
    alone.flush();
    CHECK(events >= 6 * alone.events());
}

TEST_CASE("NodeFeeds: idle nodes are completed and dropped by age()", "[node_feed]") {
    const std::string log = read_sample("noise.enriched.log");
    std::uint64_t events = 0;
    NodeFeeds feeds([&](auparse_state_t*) { ++events; }, 8);
    std::string text;
    for (const auto& r : as_node(log, "idle", 0)) text += r;
    feeds.feed(text);
    feeds.age(std::chrono::hours(1));
    CHECK(feeds.counters().nodes == 1);
    feeds.age(std::chrono::nanoseconds(1));
    CHECK(feeds.counters().nodes == 0);
    CHECK(feeds.counters().nodes_evicted == 1);
    CHECK(events == feeds.events());
    CHECK(events > 0);
}

TEST_CASE("NodeFeeds: a node 600 s ahead has its last event completed 2 s after its records stop",
          "[node_feed]") {
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    const std::string log = read_sample("ping_sweep.enriched.log");
    // Up to the first EXECVE record: its event (SYSCALL, EXECVE, ...) is still open at the end.
    std::string text;
    for (const auto& r : as_node(log, "ahead", now - 1795813416 + 600)) {
        text += r;
        if (r.find("type=EXECVE") != std::string::npos) break;
    }
    std::uint64_t events = 0;
    NodeFeeds feeds([&](auparse_state_t*) { ++events; }, 8);
    feeds.feed(text);
    feeds.input_drained();
    feeds.age();
    const std::uint64_t fed = events;
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    feeds.age();
    // The events still in flight (the last ones, no EOE) completed by arrival, not by its clock.
    CHECK(events == fed + 1);
    CHECK(feeds.counters().nodes == 1);
}

TEST_CASE("NodeFeeds: a reader behind its input never splits an event by the quiet timer",
          "[node_feed]") {
    // One exec event's records, read seconds apart because the reader works off a backlog (each
    // read fills its buffer, so the input is never drained in between): still one event.
    const std::vector<std::string> records = as_node(read_sample("ping_sweep.enriched.log"), "far", 0);
    std::size_t execve = 0;
    while (records[execve].find("type=EXECVE") == std::string::npos) ++execve;
    std::string head, tail;
    for (std::size_t i = 0; i < execve; ++i) head += records[i];
    for (std::size_t i = execve; i < records.size() && i < execve + 4; ++i) tail += records[i];

    std::vector<std::string> types;
    NodeFeeds feeds(
        [&](auparse_state_t* au) {
            std::string joined;
            auparse_first_record(au);
            do {
                if (const char* t = auparse_get_type_name(au)) joined += std::string(t) + " ";
            } while (auparse_next_record(au) > 0);
            types.push_back(joined);
        },
        8);
    feeds.feed(head);
    const std::size_t before = types.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    feeds.age();  // 2 s without its records, but the input was never drained: not quiet
    CHECK(types.size() == before);
    feeds.feed(tail);
    feeds.input_drained();
    feeds.flush();
    REQUIRE(types.size() > before);
    // The event that was open when the reader fell behind holds its SYSCALL and its EXECVE.
    CHECK(types[before].find("SYSCALL") != std::string::npos);
    CHECK(types[before].find("EXECVE") != std::string::npos);
}

TEST_CASE("NodeFeeds: a node with events in flight is evicted after one without", "[node_feed]") {
    std::vector<std::string> keys;
    NodeFeeds feeds([&](auparse_state_t* au) { keys.push_back(scanwatch::parsers::event_key(au)); },
                    2);
    feeds.set_busy([](std::string_view node) { return node == "a"; });
    const std::string syscall =
        " type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 ppid=1 "
        "pid=2 comm=\"x\" exe=\"/x\" key=(null)\n";
    feeds.feed("node=a" + syscall);  // half an event: its EXECVE is still to come
    feeds.feed("node=b" + syscall);
    feeds.feed("node=c" + syscall);  // "a" is least recently fed, but busy: "b" goes
    CHECK(keys == std::vector<std::string>{"b 1.000:1"});
    CHECK(feeds.counters().nodes_evicted == 1);
    feeds.flush();
    CHECK(keys.size() == 3);
}
