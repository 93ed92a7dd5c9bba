// process.parent.name / args / args_count / command_line from the process table (docs/events.md).
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "parsers/ecs/ecs_json.h"
#include "parsers/process_table.h"
#include "rules/event_fields.h"
#include "rules/query/query.h"
#include "tests/parsers/normalize_text.h"

using scanwatch::ProcessEvent;
using scanwatch::parsers::kMaxTableArgsBytes;
using scanwatch::parsers::kMaxTableStringBytes;
using scanwatch::parsers::ProcessTable;
using scanwatch::test::normalize_text;

namespace {

std::string exec_event(int serial, int pid, int ppid, const std::string& comm,
                       const std::string& execve_fields) {
    const std::string stamp = "msg=audit(1700000000." + std::to_string(100 + serial % 900) + ":" +
                              std::to_string(serial) + "): ";
    return "type=SYSCALL " + stamp + "arch=c000003e syscall=59 success=yes exit=0 ppid=" +
           std::to_string(ppid) + " pid=" + std::to_string(pid) +
           " auid=1000 uid=1000 gid=1000 euid=0 egid=0 ses=3 comm=\"" + comm +
           "\" exe=\"/usr/bin/" + comm + "\" key=(null)\n" + "type=EXECVE " + stamp +
           execve_fields + "\ntype=PROCTITLE " + stamp + "proctitle=6100\n";
}

bool query_matches(const std::string& query, const ProcessEvent& e) {
    scanwatch::rules::FieldCatalog catalog;
    auto parsed = scanwatch::rules::Query::parse(query, catalog.resolver());
    REQUIRE(std::holds_alternative<scanwatch::rules::Query>(parsed));
    REQUIRE(catalog.unknown_fields().empty());
    return std::get<scanwatch::rules::Query>(parsed).matches(
        scanwatch::rules::EventFields(e, scanwatch::rules::NameMatch::comm));
}

std::string json_of(const ProcessEvent& e) {
    std::string out;
    scanwatch::append_event_json(out, e);
    return out;
}

}  // namespace

TEST_CASE("Parent fields: the parent's exec seen gives name, args, argc and command line",
          "[parent]") {
    const auto r = normalize_text(exec_event(1, 100, 1, "sh", "argc=3 a0=\"sh\" a1=\"-c\" a2=\"\"") +
                                  exec_event(2, 200, 100, "ping", "argc=2 a0=\"ping\" a1=\"h\""));
    REQUIRE(r.events.size() == 2);
    const ProcessEvent& child = r.events[1];
    CHECK(child.parent_exec_seen);
    CHECK(child.parent_name == "sh");
    CHECK(child.parent_executable == "/usr/bin/sh");
    CHECK(child.parent_args == std::string("sh\0-c\0\0", 7));  // the empty argument kept
    CHECK(child.parent_args_count == 3);
    CHECK(child.parent_command_line() == "sh -c ");
    const std::string json = json_of(child);
    CHECK_THAT(json, Catch::Contains(R"("executable":"/usr/bin/sh","name":"sh","args":["sh","-c",""],"args_count":3,"command_line":"sh -c "})"));
    CHECK(query_matches("process.parent.name:sh and process.parent.args:\"-c\" and "
                        "process.parent.args_count:3 and process.parent.command_line:sh*",
                        child));
    CHECK_FALSE(query_matches("process.parent.args:ping", child));
}

TEST_CASE("Parent fields: a parent whose exec was not seen has none of them", "[parent]") {
    const auto r = normalize_text(exec_event(1, 200, 100, "ping", "argc=1 a0=\"ping\""));
    REQUIRE(r.events.size() == 1);
    const ProcessEvent& e = r.events[0];
    CHECK_FALSE(e.parent_exec_seen);
    CHECK(e.parent_name.empty());
    CHECK(e.parent_args.empty());
    CHECK(e.parent_args_count == 0);
    const std::string json = json_of(e);
    CHECK_THAT(json, Catch::Contains(R"("parent":{"pid":100,"entity_id":")"));
    CHECK_THAT(json, !Catch::Contains("\"args_count\":0"));
    CHECK_THAT(json, !Catch::Contains("\"command_line\":\"\""));
    // Unknown is no value: not even a wildcard or an existence query matches.
    CHECK_FALSE(query_matches("process.parent.args_count:*", e));
    CHECK_FALSE(query_matches("process.parent.command_line:*", e));
    CHECK_FALSE(query_matches("process.parent.args:*", e));
}

TEST_CASE("Parent fields: an evicted parent is no longer known", "[parent]") {
    scanwatch::parsers::NormalizerOptions options;
    options.max_processes = 2;
    // 100 execs; then 2 other processes push it out; then a child of 100.
    const auto r = normalize_text(exec_event(1, 100, 1, "sh", "argc=1 a0=\"sh\"") +
                                      exec_event(2, 300, 2, "a", "argc=1 a0=\"a\"") +
                                      exec_event(3, 200, 100, "ping", "argc=1 a0=\"ping\""),
                                  options);
    REQUIRE(r.events.size() == 3);
    // 300's parent 2 pushed out 100 (no child of it seen), and 300 itself pushed out 1.
    CHECK_FALSE(r.events[2].parent_exec_seen);
    CHECK(r.events[2].parent_name.empty());
    CHECK(r.events[2].parent_executable.empty());
}

TEST_CASE("Parent fields: the table keeps whole arguments up to its cap", "[parent]") {
    ProcessTable table(4);
    ProcessEvent exec;
    exec.name = "sh";
    exec.executable = std::string(kMaxTableStringBytes + 1, 'x');
    const std::string big(1300, 'a');
    exec.args = {"sh", big, big, big, big, "c"};  // the fourth big no longer fits: it ends the list
    exec.args_count = 9;  // as logged, records lost
    table.start("h", 1, "1.000:1", exec);
    const auto parent = table.current("h", 1, "1.000:2");
    CHECK(parent.exec_seen);
    CHECK(parent.args_count == 9);
    CHECK(parent.args.size() <= kMaxTableArgsBytes);
    CHECK(parent.args == "sh" + std::string(1, '\0') + big + '\0' + big + '\0' + big + '\0');
    CHECK(parent.executable.substr(0, kMaxTableStringBytes) ==
          std::string(kMaxTableStringBytes, 'x'));
    CHECK_THAT(std::string(parent.executable), Catch::Contains("[scanwatch: truncated, 4097 bytes"));
    // Saved and restored, the same; a forged saved list longer than the cap is cut at an argument.
    auto saved = table.save();
    saved.back().args = std::string(kMaxTableArgsBytes - 2, 'b') + '\0' + "cd" + '\0';
    ProcessTable restored(4);
    restored.restore(saved);
    const auto back = restored.current("h", 1, "1.000:3");
    CHECK(back.exec_seen);
    CHECK(back.name == "sh");
    CHECK(back.args == std::string(kMaxTableArgsBytes - 2, 'b') + '\0');
}

namespace {

// An exec with no login session (auid and ses unset), as a service's children have.
std::string sessionless_exec(int serial, int pid, int ppid, const std::string& comm,
                             const std::string& args) {
    std::string e = exec_event(serial, pid, ppid, comm, args);
    const auto at = e.find("auid=1000");
    e.replace(at, 9, "auid=4294967295");
    const auto ses = e.find("ses=3");
    e.replace(ses, 5, "ses=4294967295");
    return e;
}

}  // namespace

TEST_CASE("Parent fields: an exec without a session names its parent's parent", "[parent][lineage]") {
    const auto r = normalize_text(
        sessionless_exec(1, 300, 50, "bash", "argc=1 a0=\"bash\"") +          // the loop shell
        sessionless_exec(2, 301, 300, "timeout", "argc=2 a0=\"timeout\" a1=\"2\"") +
        sessionless_exec(3, 302, 301, "ping", "argc=2 a0=\"ping\" a1=\"h\""));
    REQUIRE(r.events.size() == 3);
    const ProcessEvent& ping = r.events[2];
    CHECK(ping.grandparent_pid == 300);
    CHECK(ping.grandparent_entity_id == r.events[0].entity_id);
    CHECK(ping.grandparent_executable == "/usr/bin/bash");
    CHECK_FALSE(ping.parent_untraced);
    // The loop shell's parent (pid 50) was never exec'd: known by pid and entity id only.
    const ProcessEvent& timeout = r.events[1];
    CHECK(timeout.grandparent_pid == 50);
    CHECK_FALSE(timeout.grandparent_entity_id.empty());
    CHECK(timeout.grandparent_executable.empty());
    const std::string json = json_of(ping);
    CHECK_THAT(json, Catch::Contains(R"("parent":{"pid":300,"entity_id":")" +
                                     r.events[0].entity_id +
                                     R"(","executable":"/usr/bin/bash"})"));
    CHECK(query_matches("process.parent.parent.pid:300 and process.parent.parent.executable:*bash",
                        ping));
}

TEST_CASE("Parent fields: an exec in a login session has no parent's parent", "[parent][lineage]") {
    const auto r = normalize_text(exec_event(1, 300, 50, "bash", "argc=1 a0=\"bash\"") +
                                  exec_event(2, 301, 300, "timeout", "argc=1 a0=\"timeout\"") +
                                  exec_event(3, 302, 301, "ping", "argc=1 a0=\"ping\"") +
                                  exec_event(4, 400, 399, "ping", "argc=1 a0=\"ping\""));
    REQUIRE(r.events.size() == 4);
    CHECK(r.events[2].grandparent_entity_id.empty());
    CHECK(r.events[2].grandparent_pid == -1);
    CHECK_FALSE(r.events[3].parent_untraced);  // untraced is only told without a session
    CHECK_THAT(json_of(r.events[2]), !Catch::Contains(R"("parent":{"parent")"));
    CHECK_FALSE(query_matches("process.parent.parent.entity_id:*", r.events[2]));
}

TEST_CASE("Parent fields: pid 1, kthreadd and service managers are nobody's lineage",
          "[parent][lineage]") {
    const auto r = normalize_text(
        sessionless_exec(1, 300, 1, "timeout", "argc=1 a0=\"timeout\"") +
        sessionless_exec(2, 301, 300, "ping", "argc=1 a0=\"ping\"") +        // gp: pid 1
        sessionless_exec(3, 500, 2, "modprobe", "argc=1 a0=\"modprobe\"") +
        sessionless_exec(4, 501, 500, "ping", "argc=1 a0=\"ping\"") +        // gp: kthreadd
        sessionless_exec(5, 600, 1, "systemd", "argc=2 a0=\"systemd\" a1=\"--user\"") +
        sessionless_exec(6, 601, 600, "svc", "argc=1 a0=\"svc\"") +
        sessionless_exec(7, 602, 601, "ping", "argc=1 a0=\"ping\"") +        // gp: systemd
        sessionless_exec(8, 700, 600, "sh", "argc=1 a0=\"sh\"") +
        sessionless_exec(9, 701, 700, "ping", "argc=1 a0=\"ping\""));       // gp: 600's child
    REQUIRE(r.events.size() == 9);
    for (int i : {1, 3, 6}) {
        INFO(i);
        CHECK(r.events[i].grandparent_entity_id.empty());
        CHECK_FALSE(r.events[i].parent_untraced);
    }
    CHECK(r.events[8].grandparent_entity_id.empty());  // sh's parent is systemd --user
    CHECK(r.events[7].grandparent_pid == -1);
}

TEST_CASE("Parent fields: a parent first met at an exec without a session is untraced",
          "[parent][lineage]") {
    // A backgrounded shell function: each target's ping has a fresh bash fork as parent, and
    // the fork never execs. Its second child finds it known.
    const auto r = normalize_text(sessionless_exec(1, 401, 400, "ping", "argc=1 a0=\"ping\"") +
                                  sessionless_exec(2, 402, 400, "ping", "argc=1 a0=\"ping\"") +
                                  sessionless_exec(3, 404, 403, "ping", "argc=1 a0=\"ping\""));
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[0].parent_untraced);
    CHECK_FALSE(r.events[1].parent_untraced);
    CHECK(r.events[2].parent_untraced);
    CHECK(r.events[0].grandparent_entity_id.empty());
}

TEST_CASE("Process table: an instance keeps the ppid of its exec and says when it was first met",
          "[parent][lineage]") {
    ProcessTable table(8);
    ProcessEvent exec;
    exec.ppid = 42;
    CHECK(table.current("h", 7, "1.000:1").first_met);
    CHECK_FALSE(table.current("h", 7, "1.000:2").first_met);
    CHECK(table.current("h", 7, "1.000:2").parent_pid == -1);
    const auto started = table.start("h", 7, "1.000:3", exec);
    CHECK_FALSE(started.first_met);
    CHECK(started.parent_pid == 42);
    CHECK(table.current("h", 7, "1.000:4").parent_pid == 42);
    CHECK(table.start("h", 8, "1.000:5", exec).first_met);
}

TEST_CASE("Process table: a pid flood evicts one-off execs before a parent of many", "[parent]") {
    ProcessTable table(64);
    ProcessEvent exec;
    exec.name = "sh";
    // A sweep's loop (pid 10) with two children seen, a parent of one (pid 20).
    const std::string loop = std::string(table.parent("h", 10, "1.000:1").entity_id);
    table.start("h", 11, "1.000:1", exec);
    CHECK(table.parent("h", 10, "1.000:2").entity_id == loop);
    table.start("h", 12, "1.000:2", exec);
    const std::string one = std::string(table.parent("h", 20, "1.000:3").entity_id);
    table.start("h", 21, "1.000:3", exec);
    // 1,000 one-off execs of one parent, then 1,000 each from a parent of its own.
    for (int i = 0; i < 1000; ++i) {
        table.parent("h", 30, "2.000:1");
        table.start("h", 1000 + i, "2.000:1", exec);
    }
    for (int i = 0; i < 1000; ++i) {
        table.parent("h", 5000 + 2 * i, "3.000:1");
        table.start("h", 5001 + 2 * i, "3.000:1", exec);
    }
    CHECK(table.size() == 64);
    CHECK(table.evictions() > 2000);
    CHECK(table.parent("h", 10, "4.000:1").entity_id == loop);  // its sweep stays one group
    CHECK(table.parent("h", 20, "4.000:2").entity_id != one);   // a parent of one: gone
}

TEST_CASE("Process table: one node's flood never evicts another node's processes", "[parent]") {
    ProcessTable table(64);
    ProcessEvent exec;
    exec.name = "ping";
    const std::string quiet_parent = std::string(table.parent("quiet", 10, "1.000:1").entity_id);
    const std::string quiet_exec = std::string(table.start("quiet", 11, "1.000:1", exec).entity_id);
    for (int i = 0; i < 5000; ++i) {
        table.parent("flood", 5000 + 2 * i, "2.000:1");
        table.start("flood", 5001 + 2 * i, "2.000:1", exec);
    }
    CHECK(table.size() == 64);
    CHECK(table.current("quiet", 10, "3.000:1").entity_id == quiet_parent);
    CHECK(table.current("quiet", 11, "3.000:1").entity_id == quiet_exec);
}

TEST_CASE("Process table: parents of many hold at most half of it", "[parent]") {
    ProcessTable table(8);
    ProcessEvent exec;
    // Ten parents of two children each: dead shells of the past must not fill the table.
    for (int p = 0; p < 10; ++p) {
        for (int c = 0; c < 2; ++c) {
            table.parent("h", 100 + p, "1.000:1");
            table.start("h", 1000 + 10 * p + c, "1.000:1", exec);
        }
    }
    // A new loop with two children is kept over a flood of one-offs.
    const std::string loop = std::string(table.parent("h", 7, "2.000:1").entity_id);
    table.start("h", 70, "2.000:1", exec);
    table.parent("h", 7, "2.000:2");
    table.start("h", 71, "2.000:2", exec);
    for (int i = 0; i < 100; ++i) {
        table.parent("h", 9, "3.000:1");
        table.start("h", 20000 + i, "3.000:1", exec);
    }
    CHECK(table.parent("h", 7, "4.000:1").entity_id == loop);
    CHECK(table.size() == 8);
}
