#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "parsers/record_filter.h"

using scanwatch::parsers::Malformed;
using scanwatch::parsers::RecordFilter;

namespace {

struct Captured {
    std::string fed;
    std::vector<std::pair<Malformed, std::uint64_t>> bad;
};

constexpr const char* kExecSyscall =
    "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes ppid=1 pid=2 "
    "comm=\"ping\" exe=\"/usr/bin/ping\" key=(null)";
constexpr const char* kExecve =
    "type=EXECVE msg=audit(1700000000.123:42): argc=2 a0=\"ping\" a1=\"x\"";
constexpr const char* kOpenSyscall =
    "type=SYSCALL msg=audit(1700000000.200:43): arch=c000003e syscall=257 success=yes exit=3 "
    "ppid=1 pid=2 comm=\"cat\" exe=\"/usr/bin/cat\" key=(null)";
constexpr const char* kPath =
    "type=PATH msg=audit(1700000000.123:42): item=0 name=\"/usr/bin/ping\"";

Captured run(const std::string& text, std::size_t chunk = 7, std::size_t max_line = 64 * 1024,
             bool project = true) {
    Captured c;
    RecordFilter filter(
        [&](std::string_view r) { c.fed.append(r); },
        [&](Malformed m, std::uint64_t line, std::string_view) { c.bad.emplace_back(m, line); },
        max_line);
    filter.project_syscalls(project);
    for (std::size_t i = 0; i < text.size(); i += chunk)
        filter.feed(std::string_view(text).substr(i, chunk));
    filter.finish();
    return c;
}

}  // namespace

TEST_CASE("Filter: exec records pass whole, whatever the chunking", "[filter]") {
    const std::string text = std::string(kExecSyscall) + "\n" + kExecve + "\n";
    for (std::size_t chunk : {1U, 3U, 64U, 4096U}) {
        const auto c = run(text, chunk);
        CHECK(c.fed == text);
        CHECK(c.bad.empty());
    }
}

TEST_CASE("Filter: exec SYSCALLs go on with only the fields the normalizer reads", "[filter]") {
    const std::string raw =
        "node=h1 type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes "
        "exit=0 "
        "a0=55d a1=55e a2=55f a3=0 items=2 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 "
        "fsuid=0 "
        "egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"ping\" exe=\"/usr/bin/ping\" "
        "subj=unconfined key=\"scan\"\x1d"
        "ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\" GID=\"root\" "
        "EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\"";
    const std::string cut =
        "node=h1 type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes "
        "ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 egid=0 ses=3 comm=\"ping\" exe=\"/usr/bin/ping\" "
        "key=\"scan\"\x1d"
        "AUID=\"alice\" UID=\"root\" GID=\"root\" EUID=\"root\" EGID=\"root\"";
    for (std::size_t chunk : {1U, 5U, 4096U}) {
        CHECK(run(raw + "\n", chunk).fed == cut + "\n");
        CHECK(run(raw + "\n", chunk, 64 * 1024, false).fed == raw + "\n");
    }
    // A name is what comes before the first '=': values with '=' in them, names that end
    // another name, fields without '='.
    const std::string odd =
        "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 x=pid=6 pid==5 "
        "uid apid=1 a0=3 sesx=1 key=a=b comm\x1d" "XUID=\"a\" UID==\"b\" AUID";
    CHECK(run(odd + "\n").fed ==
          "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 pid==5 key=a=b"
          "\x1d" "UID==\"b\"\n");
    // An ENRICHED list without the ids keeps the names of the fields read it has.
    const std::string no_ids =
        "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes pid=2 "
        "tty=pts0\x1d" "ARCH=x86_64 SYSCALL=execve TTY=pts0";
    CHECK(run(no_ids + "\n").fed ==
          "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes pid=2"
          "\x1d" "ARCH=x86_64 SYSCALL=execve\n");
    // Other records pass whole.
    CHECK(run(std::string(kExecve) + "\n").fed == std::string(kExecve) + "\n");
}

TEST_CASE("Filter: records that cannot matter are skipped before auparse", "[filter]") {
    const std::string text = std::string(kOpenSyscall) + "\n" + kPath + "\n" + kExecve + "\n";
    const auto c = run(text);
    CHECK(c.fed == std::string(kExecve) + "\n");
}

TEST_CASE("Filter: the rest of an event whose SYSCALL was skipped is skipped with it", "[filter]") {
    // An open(2) event: SYSCALL, CWD, PATH, PROCTITLE, EOE. Only the SYSCALL and PATH were
    // skipped by type; the CWD, PROCTITLE and EOE now go with them.
    const std::string stamp = "msg=audit(1700000000.200:43): ";
    const std::string open_rest = "type=CWD " + stamp + "cwd=\"/root\"\n" + "type=PATH " + stamp +
                                  "item=0 name=\"/etc/passwd\"\n" + "type=PROCTITLE " + stamp +
                                  "proctitle=636174\n" + "type=EOE " + stamp + "\n";
    const std::string exec = std::string(kExecSyscall) + "\n" + kExecve + "\n";
    for (std::size_t chunk : {1U, 7U, 4096U}) {
        CHECK(run(std::string(kOpenSyscall) + "\n" + open_rest + exec, chunk).fed == exec);
    }
    // Two nodes interleaved (a collector): each node's event is still recognised.
    const std::string a = "node=a ";
    const std::string b = "node=b ";
    std::string interleaved;
    interleaved += a + kOpenSyscall + "\n" + b + kOpenSyscall + "\n";
    interleaved += a + "type=PROCTITLE " + stamp + "proctitle=636174\n";
    interleaved += b + "type=PROCTITLE " + stamp + "proctitle=636174\n";
    CHECK(run(interleaved).fed.empty());
    // A record that comes before its event's SYSCALL cannot be judged: it goes on, and so does
    // the rest of that event (auparse assembles what it was given).
    const std::string early = "type=CWD " + stamp + "cwd=\"/root\"\n";
    const std::string late_title = "type=PROCTITLE " + stamp + "proctitle=636174\n";
    CHECK(run(early + kOpenSyscall + "\n" + late_title).fed == early + late_title);
    // Another event's records (another stamp) are not skipped.
    const std::string other = "type=CWD msg=audit(1700000000.201:44): cwd=\"/root\"\n";
    CHECK(run(std::string(kOpenSyscall) + "\n" + other).fed == other);
}

TEST_CASE("Filter: i386 and aarch64 execs and interpreted syscalls are kept", "[filter]") {
    const std::string i386 =
        "type=SYSCALL msg=audit(1.001:1): arch=40000003 syscall=11 success=yes";
    const std::string arm =
        "type=SYSCALL msg=audit(1.001:2): arch=c00000b7 syscall=221 success=yes";
    const std::string arm_open =
        "type=SYSCALL msg=audit(1.001:3): arch=c00000b7 syscall=56 success=yes";
    const std::string named =
        "type=SYSCALL msg=audit(1.001:4): arch=x86_64 syscall=execve success=yes";
    const auto c = run(i386 + "\n" + arm + "\n" + arm_open + "\n" + named + "\n");
    CHECK(c.fed == i386 + "\n" + arm + "\n" + named + "\n");
}

TEST_CASE("Filter: blank lines, comments and ausearch separators are ignored, not malformed",
          "[filter]") {
    const std::string text =
        "\n# comment\n----\ntime->Mon Mar  8 10:50:32 2021\n   \n" + std::string(kExecve) + "\n";
    const auto c = run(text);
    CHECK(c.fed == std::string(kExecve) + "\n");
    CHECK(c.bad.empty());
}

TEST_CASE("Filter: garbage, NUL bytes and bad headers are reported with their line", "[filter]") {
    std::string text = "hello world\n";
    using namespace std::string_literals;
    text += "type=EXECVE msg=audit(1.2:3): a0=\"p\0q\"\n"s;
    text += "type=EXECVE msg=audit(abc): argc=1\n";
    text += std::string(kExecve) + "\n";
    const auto c = run(text);
    REQUIRE(c.bad.size() == 3);
    CHECK(c.bad[0] == std::make_pair(Malformed::garbage, std::uint64_t{1}));
    CHECK(c.bad[1] == std::make_pair(Malformed::nul_byte, std::uint64_t{2}));
    CHECK(c.bad[2] == std::make_pair(Malformed::bad_header, std::uint64_t{3}));
    CHECK(c.fed == std::string(kExecve) + "\n");
}

TEST_CASE("Filter: an over-long line is dropped in bounded memory and the next line survives",
          "[filter]") {
    const std::string huge =
        "type=EXECVE msg=audit(1.2:3): a0=\"" + std::string(200000, 'A') + "\"";
    for (std::size_t chunk : {1000U, 65536U, 300000U}) {
        const auto c = run(huge + "\n" + kExecve + "\n", chunk, 4096);
        REQUIRE(c.bad.size() == 1);
        CHECK(c.bad[0].first == Malformed::too_long);
        CHECK(c.fed == std::string(kExecve) + "\n");
    }
}

TEST_CASE("Filter: syslog prefixes and indentation are stripped", "[filter]") {
    const std::string text = "Mar  8 10:50:32 host audispd: node=web1 " + std::string(kExecve) +
                             "\n    " + kExecve + "\n";
    const auto c = run(text);
    CHECK(c.fed == "node=web1 " + std::string(kExecve) + "\n" + kExecve + "\n");
}

TEST_CASE("Filter: a last line without newline is kept; a cut one is truncated", "[filter]") {
    CHECK(run(kExecve).fed == std::string(kExecve) + "\n");
    const auto cut = run(std::string(kExecve) + "\ntype=EXECVE msg=audit(1700000000.1");
    REQUIRE(cut.bad.size() == 1);
    CHECK(cut.bad[0].first == Malformed::truncated);
}

TEST_CASE("Filter: the ENRICHED separator written as text \\u001D becomes the byte", "[filter]") {
    const std::string text = std::string(kExecSyscall) + "\\u001DARCH=x86_64 UID=\"root\"\n";
    CHECK(run(text).fed == std::string(kExecSyscall) + "\x1d" + "UID=\"root\"\n");  // projected
    CHECK(run(text, 7, 64 * 1024, false).fed ==
          std::string(kExecSyscall) + "\x1d" + "ARCH=x86_64 UID=\"root\"\n");
}

TEST_CASE("Filter: counters add up", "[filter]") {
    const std::string text = std::string(kExecSyscall) + "\n" + kOpenSyscall + "\n# c\ngarbage\n";
    RecordFilter filter([](std::string_view) {}, {});
    filter.feed(text);
    filter.finish();
    const auto& k = filter.counters();
    CHECK(k.lines == 4);
    CHECK(k.records == 2);
    CHECK(k.records_fed == 1);
    CHECK(k.records_skipped == 1);
    CHECK(k.ignored_lines == 1);
    CHECK(k.malformed_total() == 1);
    CHECK(k.bytes == text.size());
}

namespace {

// Runs `text` through a filter set up by `setup`, in chunks of 7 bytes.
template <typename Setup>
std::pair<std::string, scanwatch::parsers::FilterCounters> run_with(const std::string& text,
                                                                      Setup setup) {
    std::string fed;
    RecordFilter filter([&](std::string_view r) { fed.append(r); }, {});
    filter.project_syscalls(false);
    setup(filter);
    for (std::size_t i = 0; i < text.size(); i += 7) filter.feed(std::string_view(text).substr(i, 7));
    filter.finish();
    return {fed, filter.counters()};
}

constexpr const char* kTitle = "type=PROCTITLE msg=audit(1700000000.123:42): proctitle=70696E670078";
constexpr const char* kEoe = "type=EOE msg=audit(1700000000.123:42): ";
constexpr const char* kConnect =
    "type=SYSCALL msg=audit(1700000000.300:50): arch=c000003e syscall=42 success=no exit=-111 "
    "a0=3 a1=7ffd a2=10 a3=0 ppid=1 pid=2 comm=\"nc\" exe=\"/usr/bin/nc\" key=(null)";
constexpr const char* kConnectTitle = "type=PROCTITLE msg=audit(1700000000.300:50): proctitle=6E63";

}  // namespace

TEST_CASE("Filter: a PROCTITLE nothing reads goes on as an EOE of its event", "[filter]") {
    const std::string exec = std::string(kExecSyscall) + "\n" + kExecve + "\n";
    const std::string text = exec + kTitle + "\n";
    // By default titles are read: the record goes on whole.
    CHECK(run_with(text, [](RecordFilter&) {}).first == text);
    const auto [fed, counters] = run_with(text, [](RecordFilter& f) { f.need_titles(false, false); });
    CHECK(fed == exec + kEoe + "\n");
    CHECK(counters.proctitles_as_eoe == 1);
    CHECK(counters.records_fed == 3);
    CHECK(counters.records_skipped == 0);
    // With node=, the EOE names the node.
    const std::string node = "node=h1 ";
    const auto with_node = run_with(node + kExecSyscall + "\n" + node + kTitle + "\n",
                                    [](RecordFilter& f) { f.need_titles(false, true); });
    CHECK(with_node.first == node + kExecSyscall + "\n" + node + kEoe + "\n");
    // A PROCTITLE no earlier record of its event went on with goes on whole: an EOE alone would
    // be dropped by libauparse, and the event with it.
    const std::string alone = std::string(kTitle) + "\n";
    CHECK(run_with(alone, [](RecordFilter& f) { f.need_titles(false, false); }).first == alone);
    // A record of the same stamp after it starts a new event, as after the PROCTITLE itself.
    const auto twice = run_with(text + text, [](RecordFilter& f) { f.need_titles(false, false); });
    CHECK(twice.first == exec + kEoe + "\n" + exec + kEoe + "\n");
    CHECK(twice.second.proctitles_as_eoe == 2);
    CHECK(twice.second.events_ended_early == 0);
}

TEST_CASE("Filter: titles are kept or dropped by the kind of their event", "[filter]") {
    const std::string exec = std::string(kExecSyscall) + "\n" + kExecve + "\n";
    const std::string connect = std::string(kConnect) + "\n";
    const std::string text = exec + kTitle + "\n" + connect + kConnectTitle + "\n";
    // Exec titles unread, network ones read.
    const auto exec_only = run_with(text, [](RecordFilter& f) {
        f.pass_network(true);
        f.need_titles(false, true);
    });
    CHECK(exec_only.first == exec + kEoe + "\n" + connect + kConnectTitle + "\n");
    CHECK(exec_only.second.proctitles_as_eoe == 1);
    // Network titles unread, exec ones read.
    const auto network_only = run_with(text, [](RecordFilter& f) {
        f.pass_network(true);
        f.need_titles(true, false);
    });
    CHECK(network_only.first ==
          exec + kTitle + "\n" + connect + "type=EOE msg=audit(1700000000.300:50): \n");
    // Where EOE ends every event (skip_proctitles, an EOE seen): the unread ones are skipped.
    const std::string eoe = std::string(kEoe) + "\n";
    const std::string stream = exec + kTitle + "\n" + eoe + connect + kConnectTitle + "\n";
    const auto skipping = run_with(exec + kTitle + "\n" + eoe + stream, [](RecordFilter& f) {
        f.pass_network(true);
        f.skip_proctitles(true);
        f.need_titles(false, true);
    });
    // The first event's PROCTITLE comes before any EOE: an EOE of its own ends it.
    CHECK(skipping.first == exec + kEoe + "\n" + eoe + exec + eoe + connect + kConnectTitle + "\n");
    CHECK(skipping.second.proctitles_skipped == 1);
    CHECK(skipping.second.proctitles_as_eoe == 1);
}

TEST_CASE("Filter: the only event of its node in flight is ended through the ender", "[filter]") {
    const std::string exec = std::string(kExecSyscall) + "\n" + kExecve + "\n";
    std::vector<std::string> ended;
    std::string fed;
    std::string fed_at_end;
    RecordFilter filter([&](std::string_view r) { fed.append(r); }, {});
    filter.project_syscalls(false);
    filter.need_titles(false, false);
    filter.end_events_with([&](std::string_view node) {
        ended.emplace_back(node);
        fed_at_end = fed;  // what was handed on before: the event's records
    });
    const std::string node_a = "node=a ";
    const std::string node_b = "node=b ";
    // Two nodes interleaved, one event each in flight: each is ended through the ender.
    filter.feed(node_a + kExecSyscall + "\n" + node_b + kExecSyscall + "\n" + node_a + kTitle +
                "\n" + node_b + kTitle + "\n");
    CHECK(ended == std::vector<std::string>{"a", "b"});
    CHECK(fed == node_a + kExecSyscall + "\n" + node_b + kExecSyscall + "\n");
    CHECK(fed_at_end == fed);
    CHECK(filter.counters().proctitles_flushed == 2);
    CHECK(filter.counters().records_fed == 2);
    CHECK(filter.open_events() == 0);
    // Two events of one node in flight: the first ends with an EOE, the second through the ender.
    fed.clear();
    ended.clear();
    const std::string other =
        "type=SYSCALL msg=audit(1700000000.124:43): arch=c000003e syscall=59 success=yes ppid=1 "
        "pid=3 comm=\"ping\" exe=\"/usr/bin/ping\" key=(null)\n";
    const std::string other_title = "type=PROCTITLE msg=audit(1700000000.124:43): proctitle=70696E67\n";
    filter.feed(exec + other + kTitle + "\n" + other_title);
    CHECK(fed == exec + other + kEoe + "\n");
    CHECK(ended == std::vector<std::string>{""});
    CHECK(filter.counters().proctitles_as_eoe == 1);
    CHECK(filter.counters().proctitles_flushed == 3);
}
