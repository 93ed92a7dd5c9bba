#include <catch2/catch.hpp>

#include <string>

#include "parsers/process_table.h"
#include "tests/parsers/normalize_text.h"

using scanwatch::ProcessEvent;
using scanwatch::parsers::entity_id_for;
using scanwatch::test::normalize_text;

namespace {

// A RAW execve event as auditd 3.0 writes it, with pid, ppid, serial and args filled in.
std::string exec_event(int serial, int pid, int ppid, const std::string& execve_fields,
                       const std::string& syscall_extra = "arch=c000003e syscall=59 success=yes exit=0",
                       const std::string& node = "") {
    const std::string stamp = "msg=audit(1700000000." + std::to_string(100 + serial % 900) + ":" +
                              std::to_string(serial) + "): ";
    const std::string prefix = node.empty() ? "" : "node=" + node + " ";
    return prefix + "type=SYSCALL " + stamp + syscall_extra +
           " a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=" + std::to_string(ppid) +
           " pid=" + std::to_string(pid) +
           " auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 "
           "comm=\"ping\" exe=\"/usr/bin/ping\" key=\"scan\"\n" +
           prefix + "type=EXECVE " + stamp + execve_fields + "\n" + prefix + "type=CWD " + stamp +
           "cwd=\"/root\"\n" + prefix + "type=PATH " + stamp +
           "item=0 name=\"/usr/bin/ping\" inode=1 dev=fe:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 "
           "nametype=NORMAL\n" +
           prefix + "type=PROCTITLE " + stamp + "proctitle=70696E67002D630031\n" + prefix +
           "type=EOE " + stamp + "\n";
}

}  // namespace

TEST_CASE("Normalizer: a RAW execve becomes an ECS process event", "[normalizer]") {
    const auto r = normalize_text(exec_event(7, 200, 100, "argc=4 a0=\"ping\" a1=\"-c\" a2=\"1\" a3=\"127.0.0.1\""));
    REQUIRE(r.events.size() == 1);
    const ProcessEvent& e = r.events[0];
    CHECK(e.time_ms == 1700000000107);
    CHECK(e.serial == 7);
    CHECK(e.host_id == "test-host-id");
    CHECK(e.host_name == "test-host");
    CHECK(e.success);
    CHECK(e.syscall == "execve");
    CHECK(e.arch == "x86_64");
    CHECK(e.pid == 200);
    CHECK(e.ppid == 100);
    CHECK(e.name == "ping");
    CHECK(e.executable == "/usr/bin/ping");
    CHECK(e.args == std::vector<std::string>{"ping", "-c", "1", "127.0.0.1"});
    CHECK(e.args_count == 4);
    CHECK(e.command_line() == "ping -c 1 127.0.0.1");
    CHECK(e.title == "ping -c 1");
    CHECK(e.working_directory == "/root");
    CHECK(e.user.id == "1000");
    CHECK(e.user.name.empty());  // RAW and no lookups: a replay must not invent names
    CHECK(e.effective_user.id == "0");
    CHECK(e.audit_user.id == "1000");
    CHECK(e.tags == std::vector<std::string>{"scan"});
    CHECK(e.event_id() == "1700000000.107:7");
}

TEST_CASE("Normalizer: hex-encoded and empty arguments are decoded exactly", "[normalizer]") {
    // "a b" is hex because of the space; ff fe is not UTF-8 and must keep its bytes.
    const auto r = normalize_text(exec_event(8, 201, 100, "argc=4 a0=\"echo\" a1=612062 a2=\"\" a3=FFFE"));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].args == std::vector<std::string>{"echo", "a b", "", "\xff\xfe"});
}

TEST_CASE("Normalizer: split arguments are rejoined across EXECVE records", "[normalizer]") {
    const std::string part1(40, 'A');
    const std::string hex_b = "424242";
    std::string hex_a;
    for (int i = 0; i < 40; ++i) hex_a += "41";
    std::string text = exec_event(9, 202, 100, "argc=3 a0=\"x\" a1_len=43 a1[0]=" + hex_a);
    // A second EXECVE record carries the rest of a1 and then a2.
    const std::string stamp = "msg=audit(1700000000.109:9): ";
    const auto cwd = text.find("type=CWD");
    text.insert(cwd, "type=EXECVE " + stamp + "a1[1]=" + hex_b + " a2=\"tail\"\n");
    const auto r = normalize_text(text);
    REQUIRE(r.events.size() == 1);
    REQUIRE(r.events[0].args.size() == 3);
    CHECK(r.events[0].args[1] == part1 + "BBB");
    CHECK(r.events[0].args[2] == "tail");
}

TEST_CASE("Normalizer: ENRICHED names are used, node= names the host", "[normalizer]") {
    std::string text = exec_event(10, 203, 100, "argc=1 a0=\"ping\"", "arch=c000003e syscall=59 success=yes exit=0", "web-1");
    const auto eol = text.find('\n');
    text.insert(eol, "\x1d" "ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"alice\" GID=\"staff\" EUID=\"root\" "
                     "SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\"");
    const auto r = normalize_text(text);
    REQUIRE(r.events.size() == 1);
    const ProcessEvent& e = r.events[0];
    CHECK(e.host_id == "web-1");
    CHECK(e.host_name == "web-1");
    CHECK(e.user.name == "alice");
    CHECK(e.audit_user.name == "alice");
    CHECK(e.group.name == "staff");
    CHECK(e.effective_user.name == "root");
}

TEST_CASE("Normalizer: an id read again keeps its own record's name", "[normalizer]") {
    // The same raw ids in a row under different name lists, a list without names (RAW), one
    // without the uid's name (auparse then looks the id up here), and an id that changes: each
    // event is what it is read alone.
    const auto with_names = [](int serial, const std::string& names) {
        std::string text = exec_event(serial, 300 + serial, 100, "argc=1 a0=\"ping\"");
        if (!names.empty()) text.insert(text.find('\n'), "\x1d" + names);
        return text;
    };
    const std::string alice = "AUID=\"alice\" UID=\"alice\" GID=\"staff\" EUID=\"root\" EGID=\"root\"";
    const std::string bob = "AUID=\"bob\" UID=\"bob\" GID=\"users\" EUID=\"root\" EGID=\"root\"";
    const std::string no_uid = "AUID=\"bob\" GID=\"users\" EUID=\"root\" EGID=\"root\"";
    std::string other_uid = with_names(8, alice);
    other_uid.replace(other_uid.find(" uid=1000"), 9, " uid=1001");
    const std::vector<std::string> texts = {with_names(1, alice), with_names(2, alice), with_names(3, bob),
                                            with_names(4, bob),   with_names(5, ""),    with_names(6, alice),
                                            with_names(7, no_uid), other_uid,           with_names(9, alice)};
    std::string all;
    for (const auto& text : texts) all += text;
    const auto r = normalize_text(all);
    REQUIRE(r.events.size() == texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        INFO(i);
        const auto alone = normalize_text(texts[i]);
        REQUIRE(alone.events.size() == 1);
        const ProcessEvent& e = r.events[i];
        const ProcessEvent& a = alone.events[0];
        for (const auto& [got, want] : {std::pair{&e.user, &a.user}, {&e.audit_user, &a.audit_user},
                                        {&e.group, &a.group}, {&e.effective_user, &a.effective_user},
                                        {&e.effective_group, &a.effective_group}}) {
            CHECK(got->id == want->id);
            CHECK(got->name == want->name);
        }
    }
    CHECK(r.events[0].user.name == "alice");
    CHECK(r.events[3].user.name == "bob");
    CHECK(r.events[4].user.name.empty());
    CHECK(r.events[7].user.id == "1001");
}

TEST_CASE("Normalizer: failed exec, execveat, i386 and aarch64 execs", "[normalizer]") {
    const auto failed = normalize_text(exec_event(11, 204, 100, "argc=1 a0=\"nope\"",
                                                  "arch=c000003e syscall=59 success=no exit=-2"));
    REQUIRE(failed.events.size() == 1);
    CHECK_FALSE(failed.events[0].success);
    CHECK(failed.normalizer.failed_execs == 1);

    const auto at = normalize_text(exec_event(12, 205, 100, "argc=1 a0=\"true\"",
                                              "arch=c000003e syscall=322 success=yes exit=0"));
    REQUIRE(at.events.size() == 1);
    CHECK(at.events[0].syscall == "execveat");

    const auto i386 = normalize_text(exec_event(13, 206, 100, "argc=1 a0=\"ping\"",
                                                "arch=40000003 syscall=11 success=yes exit=0"));
    REQUIRE(i386.events.size() == 1);
    CHECK(i386.events[0].arch == "i386");

    const auto arm = normalize_text(exec_event(14, 207, 100, "argc=1 a0=\"ping\"",
                                               "arch=c00000b7 syscall=221 success=yes exit=0"));
    REQUIRE(arm.events.size() == 1);
    CHECK(arm.events[0].arch == "aarch64");

    // 59 is execve on x86_64 but not on aarch64 (there it is pipe2); such an event has no EXECVE.
    std::string text = exec_event(15, 208, 100, "argc=1 a0=\"ping\"",
                                  "arch=c00000b7 syscall=59 success=yes exit=0");
    const auto execve_line = text.find("type=EXECVE");
    text.erase(execve_line, text.find('\n', execve_line) - execve_line + 1);
    const auto not_exec = normalize_text(text);
    CHECK(not_exec.events.empty());
    // The SYSCALL and its PATH never reach auparse, nor the rest of its event.
    CHECK(not_exec.filter.records_skipped == 5);
    CHECK(not_exec.filter.records_of_skipped_events == 3);
    CHECK(not_exec.filter.records_fed == 0);
}

TEST_CASE("Normalizer: EXECVE without SYSCALL and SYSCALL without EXECVE", "[normalizer]") {
    const auto only_execve = normalize_text(
        "type=EXECVE msg=audit(1700000000.500:20): argc=2 a0=\"cat\" a1=\"/etc/hosts\"\n");
    REQUIRE(only_execve.events.size() == 1);
    CHECK(only_execve.events[0].args == std::vector<std::string>{"cat", "/etc/hosts"});
    CHECK(only_execve.events[0].pid == -1);
    CHECK(only_execve.events[0].parent_entity_id.empty());
    CHECK(only_execve.normalizer.execve_without_syscall == 1);

    std::string text = exec_event(21, 209, 100, "argc=1 a0=\"ping\"");
    const auto execve_line = text.find("type=EXECVE");
    text.erase(execve_line, text.find('\n', execve_line) - execve_line + 1);
    const auto only_syscall = normalize_text(text);
    REQUIRE(only_syscall.events.size() == 1);
    CHECK(only_syscall.events[0].args.empty());
    CHECK(only_syscall.normalizer.syscall_without_execve == 1);
}

TEST_CASE("Normalizer: entity ids follow process instances", "[normalizer]") {
    // Shell 100 runs two pings (pids 300, 301); then pid 100 itself execs (a new instance), and
    // runs another ping; later pid 300 is reused by a new exec.
    const std::string text = exec_event(30, 300, 100, "argc=1 a0=\"ping\"") +
                             exec_event(31, 301, 100, "argc=1 a0=\"ping\"") +
                             exec_event(32, 100, 50, "argc=1 a0=\"bash\"") +
                             exec_event(33, 302, 100, "argc=1 a0=\"ping\"") +
                             exec_event(34, 300, 100, "argc=1 a0=\"ping\"");
    const auto r = normalize_text(text);
    REQUIRE(r.events.size() == 5);
    const auto& e = r.events;
    CHECK(e[0].parent_entity_id == e[1].parent_entity_id);
    CHECK(e[0].parent_entity_id == entity_id_for("test-host-id", 100, "1700000000.130:30"));
    CHECK(e[2].entity_id == entity_id_for("test-host-id", 100, "1700000000.132:32"));
    CHECK(e[3].parent_entity_id == e[2].entity_id);
    CHECK(e[3].parent_entity_id != e[0].parent_entity_id);
    CHECK(e[3].parent_executable == "/usr/bin/ping");  // what pid 100 exec'd in this test
    CHECK(e[4].entity_id != e[0].entity_id);  // pid 300 reused
    CHECK(e[0].entity_id.size() == 32);
}

TEST_CASE("Normalizer: a failed exec keeps the process instance", "[normalizer]") {
    const std::string text = exec_event(40, 400, 100, "argc=1 a0=\"sh\"") +
                             exec_event(41, 400, 100, "argc=1 a0=\"nope\"",
                                        "arch=c000003e syscall=59 success=no exit=-2");
    const auto r = normalize_text(text);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[1].entity_id == r.events[0].entity_id);
}

TEST_CASE("Normalizer: interleaved events are separated by serial", "[normalizer]") {
    const std::string a = exec_event(50, 500, 100, "argc=2 a0=\"ping\" a1=\"A\"");
    const std::string b = exec_event(51, 501, 100, "argc=2 a0=\"ping\" a1=\"B\"");
    // Alternate the lines of the two events.
    std::vector<std::string> la;
    std::vector<std::string> lb;
    for (std::size_t p = 0, q; (q = a.find('\n', p)) != std::string::npos; p = q + 1) la.push_back(a.substr(p, q - p + 1));
    for (std::size_t p = 0, q; (q = b.find('\n', p)) != std::string::npos; p = q + 1) lb.push_back(b.substr(p, q - p + 1));
    std::string mixed;
    for (std::size_t i = 0; i < la.size(); ++i) mixed += la[i] + lb[i];
    const auto r = normalize_text(mixed);
    REQUIRE(r.events.size() == 2);
    for (const auto& e : r.events) {
        CHECK(e.args[1] == (e.pid == 500 ? "A" : "B"));
    }
}
