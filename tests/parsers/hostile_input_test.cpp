#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <xxhash.h>

#include "parsers/auparse_feed.h"
#include "parsers/execve_normalizer.h"
#include "parsers/record_filter.h"
#include "tests/parsers/normalize_text.h"

using scanwatch::ProcessEvent;
using scanwatch::parsers::kMaxArgBytes;
using scanwatch::parsers::kMaxArgsBytes;
using scanwatch::parsers::kMaxExecveRecordsPerEvent;
using scanwatch::parsers::Malformed;
using scanwatch::test::normalize_text;

namespace {

constexpr const char* kStamp = "msg=audit(1700000000.100:5):";

std::string syscall_record() {
    return fmt::format(
        "type=SYSCALL {} arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 uid=0 gid=0 "
        "euid=0 egid=0 auid=0 comm=\"ping\" exe=\"/bin/ping\" key=(null)\n",
        kStamp);
}

std::uint64_t malformed(const scanwatch::test::Normalized& r, Malformed reason) {
    return r.filter.malformed[static_cast<std::size_t>(reason)];
}

// Filter, auparse and normalizer fed `records` EXECVE records of one event, generated a chunk
// at a time (1 M records are 50 MB of text).
scanwatch::test::Normalized forged_execve_event(std::size_t records) {
    scanwatch::test::Normalized out;
    scanwatch::parsers::ExecveNormalizer normalizer({"h", "h"},
                                                    [&](const ProcessEvent& e) { out.events.push_back(e); });
    scanwatch::parsers::AuparseFeed feed([&](auparse_state_t* au) { normalizer.on_event(au); });
    scanwatch::parsers::RecordFilter filter([&](std::string_view r) { feed.feed(r); }, {});
    std::string chunk = syscall_record() + fmt::format("type=EXECVE {} argc={}", kStamp, records) + "\n";
    for (std::size_t i = 0; i < records; ++i) {
        fmt::format_to(std::back_inserter(chunk), "type=EXECVE {} a{}=\"{}\"\n", kStamp, i, i);
        if (chunk.size() > 1U << 20U) {
            filter.feed(chunk);
            chunk.clear();
        }
    }
    chunk += fmt::format("type=EOE {} \n", kStamp);
    filter.feed(chunk);
    filter.finish();
    feed.flush();
    out.filter = filter.counters();
    out.normalizer = normalizer.counters();
    return out;
}

}  // namespace

TEST_CASE("Hostile: 100k and 1M EXECVE records of one event are capped before auparse",
          "[hostile]") {
    for (const std::size_t records : {std::size_t{100'000}, std::size_t{1'000'000}}) {
        INFO(records);
        const auto start = std::chrono::steady_clock::now();
        const auto r = forged_execve_event(records);
        const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
        // 19 s and never, before the cap (libauparse is quadratic in an event's records).
        CHECK(seconds.count() < 20);
        REQUIRE(r.events.size() == 1);
        // The argc record and 2047 records of one argument each; the rest counted, not parsed.
        CHECK(r.events[0].args.size() == kMaxExecveRecordsPerEvent - 1);
        CHECK(r.events[0].args_count == records);
        CHECK(malformed(r, Malformed::too_many_records) == records + 1 - kMaxExecveRecordsPerEvent);
        CHECK(r.normalizer.args_missing == 1);
    }
}

TEST_CASE("Hostile: the record cap is per event; the next event is whole", "[hostile]") {
    std::string text = syscall_record();
    for (std::size_t i = 0; i < 3000; ++i) text += fmt::format("type=EXECVE {} a{}=\"x\"\n", kStamp, i);
    text += fmt::format("type=EOE {} \n", kStamp);
    // The same key again after its EOE (a log given twice) is a new event in auparse too.
    text += syscall_record() + fmt::format("type=EXECVE {} argc=1 a0=\"ping\"\ntype=EOE {} \n", kStamp, kStamp);
    const auto r = normalize_text(text);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[1].args == std::vector<std::string>{"ping"});
    CHECK(malformed(r, Malformed::too_many_records) == 3000 - kMaxExecveRecordsPerEvent);
}

TEST_CASE("Hostile: a forged argument index cannot make a million arguments", "[hostile]") {
    SECTION("a1048575= alone") {
        const auto r = normalize_text(syscall_record() +
                                      fmt::format("type=EXECVE {} argc=1 a0=\"ping\" a1048575=\"x\"\n", kStamp));
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].args == std::vector<std::string>{"ping"});
        CHECK(r.normalizer.bad_arg_index == 1);
    }
    SECTION("with a forged argc to match") {
        const auto r = normalize_text(
            syscall_record() + fmt::format("type=EXECVE {} argc=1048576 a0=\"ping\" a1048575=\"x\"\n", kStamp));
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].args == std::vector<std::string>{"ping"});
        CHECK(r.normalizer.args_dropped == 1);
    }
    SECTION("out of order and repeated indexes") {
        const auto r = normalize_text(
            syscall_record() +
            fmt::format("type=EXECVE {} argc=3 a0=\"ping\" a1=\"-c\" a1=\"again\" a0=\"back\" a2=\"1\"\n", kStamp));
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].args == std::vector<std::string>{"ping", "-c", "1"});
        CHECK(r.normalizer.bad_arg_index == 2);
    }
    SECTION("a lost record leaves empty arguments up to argc, as before") {
        const auto r = normalize_text(
            syscall_record() + fmt::format("type=EXECVE {} argc=5 a0=\"ping\" a1=\"-c\"\n", kStamp) +
            fmt::format("type=EXECVE {} a4=\"10.0.0.1\"\n", kStamp));
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].args == std::vector<std::string>{"ping", "-c", "", "", "10.0.0.1"});
        CHECK(r.normalizer.bad_arg_index == 0);
    }
}

namespace {

std::string hex_upper(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) out += fmt::format("{:02X}", c);
    return out;
}

// An EXECVE event with `args` written as the kernel does: long ones in aN[i] hex chunks.
std::string exec_with_args(const std::vector<std::string>& args, const std::string& proctitle_hex = "70696E67") {
    std::string text = syscall_record();
    text += fmt::format("type=EXECVE {} argc={}\n", kStamp, args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string hex = hex_upper(args[i]);
        text += fmt::format("type=EXECVE {} a{}_len={}\n", kStamp, i, args[i].size());
        for (std::size_t at = 0, n = 0; at < hex.size(); at += 7500, ++n) {
            text += fmt::format("type=EXECVE {} a{}[{}]={}\n", kStamp, i, n, hex.substr(at, 7500));
        }
    }
    text += fmt::format("type=PROCTITLE {} proctitle={}\ntype=EOE {} \n", kStamp, proctitle_hex, kStamp);
    return text;
}

std::string marker(std::string_view whole) {
    const XXH128_hash_t h = XXH3_128bits(whole.data(), whole.size());
    return fmt::format("[scanwatch: truncated, {} bytes, xxh3-128 {:016x}{:016x}]", whole.size(),
                       h.high64, h.low64);
}

}  // namespace

TEST_CASE("Hostile: a long argument is kept as a prefix, its length and its digest", "[hostile]") {
    const std::string long_a = std::string(100'000, 'a');
    std::string long_b = long_a;
    long_b.back() = 'b';  // differs only past the kept prefix
    const auto r = normalize_text(exec_with_args({"ping", long_a, long_b, std::string(kMaxArgBytes, 'c')}));
    REQUIRE(r.events.size() == 1);
    const auto& args = r.events[0].args;
    REQUIRE(args.size() == 4);
    CHECK(args[0] == "ping");
    CHECK(args[1] == long_a.substr(0, kMaxArgBytes) + marker(long_a));
    CHECK(args[2] == long_b.substr(0, kMaxArgBytes) + marker(long_b));
    CHECK(args[1] != args[2]);  // distinct counting stays exact
    CHECK(args[3] == std::string(kMaxArgBytes, 'c'));  // at the limit: kept whole
    CHECK(r.normalizer.args_truncated == 2);
}

TEST_CASE("Hostile: an event's arguments keep at most 1 MiB, then digests only", "[hostile]") {
    std::vector<std::string> args = {"ping"};
    for (int i = 0; i < 400; ++i) args.push_back(std::string(5000, 'x') + std::to_string(i));
    const auto r = normalize_text(exec_with_args(args));
    REQUIRE(r.events.size() == 1);
    const auto& kept = r.events[0].args;
    REQUIRE(kept.size() == args.size());
    std::size_t prefixes = 0;
    for (std::size_t i = 1; i < kept.size(); ++i) {
        const std::string m = marker(args[i]);
        REQUIRE(kept[i].size() >= m.size());
        CHECK(kept[i].substr(kept[i].size() - m.size()) == m);
        prefixes += kept[i].size() - m.size();
    }
    CHECK(prefixes + 4 <= kMaxArgsBytes);
    CHECK(kept.back() == marker(args.back()));  // past the budget: the marker alone
    CHECK(std::set<std::string>(kept.begin(), kept.end()).size() == kept.size());
    CHECK(r.normalizer.args_truncated == 400);
}

TEST_CASE("Hostile: a long process title is cut with a marker", "[hostile]") {
    const std::string title(10'000, 't');
    const auto r = normalize_text(exec_with_args({"ping"}, hex_upper(title)));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].title == title.substr(0, kMaxArgBytes) + marker(title));
    CHECK(r.normalizer.titles_truncated == 1);
}

// The minimized inputs of issue 10 item 4; under ASan (build-asan) the first two aborted.
TEST_CASE("Hostile: PROCTITLE that is not hex is counted, the event kept", "[hostile]") {
    for (const char* value : {"()0703", "414", "41zz", "\"unterminated"}) {
        INFO(value);
        const auto r = normalize_text(exec_with_args({"ping"}, value));
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].title.empty());
        CHECK(r.events[0].args == std::vector<std::string>{"ping"});
        CHECK(r.normalizer.bad_proctitle == 1);
    }
    const auto ok = normalize_text(exec_with_args({"ping"}, "70696E67002D630031"));
    REQUIRE(ok.events.size() == 1);
    CHECK(ok.events[0].title == "ping -c 1");
    const auto quoted = normalize_text(exec_with_args({"ping"}, "\"ping\""));
    REQUIRE(quoted.events.size() == 1);
    CHECK(quoted.events[0].title == "ping");
}

TEST_CASE("Hostile: a CWD record with two cwd= fields is dropped, counted", "[hostile]") {
    const auto r = normalize_text(syscall_record() +
                                  fmt::format("type=EXECVE {} argc=1 a0=\"ping\"\n", kStamp) +
                                  fmt::format("type=CWD {} cwd=\"/a\" cwd=\"/b\"\ntype=EOE {} \n", kStamp, kStamp));
    CHECK(malformed(r, Malformed::duplicate_field) == 1);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].working_directory.empty());
    CHECK(r.events[0].args == std::vector<std::string>{"ping"});
}

TEST_CASE("Hostile: huge timestamps are refused, never overflow", "[hostile]") {
    const std::string huge =
        "type=SYSCALL msg=audit(18446744073709551.100:5): arch=c000003e syscall=59 success=yes "
        "pid=2 ppid=1\ntype=EXECVE msg=audit(18446744073709551.100:5): argc=1 a0=\"ping\"\n";
    const auto filtered = normalize_text(huge);  // the filter: more than 12 digits of seconds
    CHECK(filtered.events.empty());
    CHECK(malformed(filtered, Malformed::bad_header) == 2);

    // Straight to auparse, as if past the filter: the normalizer refuses it itself.
    std::vector<ProcessEvent> events;
    scanwatch::parsers::ExecveNormalizer normalizer({"h", "h"}, [&](const ProcessEvent& e) { events.push_back(e); });
    scanwatch::parsers::AuparseFeed feed([&](auparse_state_t* au) { normalizer.on_event(au); });
    feed.feed(huge);
    feed.flush();
    CHECK(events.empty());
    CHECK(normalizer.counters().bad_timestamp == 1);
}
