// PATH item 0 of an exec: the file's device and inode, and the tool it is a hard link of
// (live and tail modes; docs/detection.md).
#include <catch2/catch.hpp>

#include <sys/sysmacros.h>

#include <memory>
#include <string>
#include <vector>

#include "parsers/auparse_feed.h"
#include "parsers/execve_normalizer.h"
#include "parsers/record_filter.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::parsers;

namespace {

struct Run {
    std::vector<ProcessEvent> events;
    std::string fed;  // what the filter handed to auparse
    FilterCounters filter;
    NormalizerCounters normalizer;
};

Run run(const std::string& text, std::shared_ptr<const ToolInodes> tools, bool pass_paths,
        RecordFilter::FileWanted wanted = {}) {
    Run out;
    NormalizerOptions options;
    options.host_id = "h";
    ExecveNormalizer normalizer(options, [&](const ProcessEvent& e) { out.events.push_back(e); });
    normalizer.set_tool_inodes(std::move(tools));
    AuparseFeed feed([&](auparse_state_t* au) { normalizer.on_event(au); });
    RecordFilter filter(
        [&](std::string_view records) {
            out.fed.append(records);
            feed.feed(records);
        },
        {});
    filter.pass_exec_paths(pass_paths, std::move(wanted));
    filter.feed(text);
    filter.finish();
    feed.flush();
    out.filter = filter.counters();
    out.normalizer = normalizer.counters();
    return out;
}

// An exec of `name` as auditd writes it: PATH item 0 the file, item 1 the ELF interpreter.
std::string exec_event(int serial, const std::string& syscall, const std::string& name,
                       const std::string& item0_identity) {
    const std::string stamp = "msg=audit(1700000000.100:" + std::to_string(serial) + "): ";
    return "type=SYSCALL " + stamp + "arch=c000003e syscall=" + syscall +
           " success=yes exit=0 items=2 ppid=1 pid=" + std::to_string(100 + serial) +
           " auid=0 uid=0 gid=0 euid=0 egid=0 ses=1 comm=\"" + name + "\" exe=\"/tmp/" + name +
           "\" key=(null)\ntype=EXECVE " + stamp + "argc=1 a0=\"" + name + "\"\ntype=CWD " +
           stamp + "cwd=\"/\"\ntype=PATH " + stamp + "item=0 name=\"/tmp/" + name + "\" " +
           item0_identity +
           " mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0\n"
           "type=PATH " + stamp +
           "item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=77 dev=fd:01 mode=0100755 ouid=0 "
           "ogid=0 rdev=00:00 nametype=NORMAL\ntype=PROCTITLE " + stamp + "proctitle=706F6E67\n";
}

}  // namespace

TEST_CASE("Exec inode: PATH item 0's inode and dev reach the event, and name the tool",
          "[exec_inode]") {
    auto tools = std::make_shared<ToolInodes>();
    (*tools)[FileIdentity{makedev(0xfd, 0x01), 10977287}] = "ping";
    const std::string text = exec_event(1, "59", "pong", "inode=10977287 dev=fd:01") +
                             exec_event(2, "59", "other", "inode=10977288 dev=fd:01") +
                             exec_event(3, "59", "bigdev", "inode=5 dev=103:10002");
    const Run r = run(text, tools, true);
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[0].has_inode);
    CHECK(r.events[0].inode == 10977287);
    CHECK(r.events[0].device == makedev(0xfd, 0x01));
    CHECK(r.events[0].inode_tool == "ping");
    CHECK(r.events[1].has_inode);
    CHECK(r.events[1].inode_tool.empty());  // the reused event forgets the previous tool
    CHECK(r.events[2].device == makedev(0x103, 0x10002));  // 12-bit major, 20-bit minor
    // Only item 0 went on, cut to the three fields read.
    CHECK(r.fed.find("item=1") == std::string::npos);
    CHECK(r.fed.find("type=PATH msg=audit(1700000000.100:1): item=0 inode=10977287 dev=fd:01\n") !=
          std::string::npos);
}

TEST_CASE("Exec inode: off (replay) no PATH goes on; a non-exec's PATH never does",
          "[exec_inode]") {
    auto tools = std::make_shared<ToolInodes>();
    (*tools)[FileIdentity{makedev(0xfd, 0x01), 10977287}] = "ping";
    const std::string exec = exec_event(1, "59", "pong", "inode=10977287 dev=fd:01");
    const Run off = run(exec, tools, false);
    REQUIRE(off.events.size() == 1);
    CHECK_FALSE(off.events[0].has_inode);
    CHECK(off.events[0].inode_tool.empty());
    CHECK(off.fed.find("type=PATH") == std::string::npos);
    // An openat (syscall 257) with a PATH item 0: skipped like its SYSCALL.
    std::string openat = exec_event(2, "257", "cat", "inode=1 dev=fd:01");
    const std::size_t execve = openat.find("type=EXECVE");
    openat.erase(execve, openat.find('\n', execve) + 1 - execve);  // an openat has none
    const Run open = run(openat, tools, true);
    CHECK(open.events.empty());
    CHECK(open.fed.find("type=PATH") == std::string::npos);
}

TEST_CASE("Exec inode: a bad inode or dev is counted and left unknown", "[exec_inode]") {
    const auto tools = std::make_shared<ToolInodes>();
    for (const char* identity : {"inode=12x dev=fd:01", "inode=12 dev=fd", "inode=12 dev=zz:01",
                                 "inode=-1 dev=fd:01"}) {
        INFO(identity);
        const Run r = run(exec_event(1, "59", "pong", identity), tools, true);
        REQUIRE(r.events.size() == 1);
        CHECK_FALSE(r.events[0].has_inode);
        CHECK(r.normalizer.bad_fields == 1);
    }
}

TEST_CASE("Exec inode: with the tools' files known, only their PATH records reach auparse, and "
          "the events name the same tools",
          "[exec_inode]") {
    auto tools = std::make_shared<ToolInodes>();
    (*tools)[FileIdentity{makedev(0xfd, 0x01), 10977287}] = "ping";
    const auto wanted = [tools](std::uint64_t device, std::uint64_t inode) {
        return tools->count(FileIdentity{device, inode}) > 0;
    };
    const std::string text = exec_event(1, "59", "pong", "inode=10977287 dev=fd:01") +
                             exec_event(2, "59", "other", "inode=10977288 dev=fd:01") +
                             exec_event(3, "59", "bad", "inode=12x dev=fd:01") +
                             exec_event(4, "59", "twice", "inode=1 dev=fd:01 inode=10977287");
    const Run all = run(text, tools, true);
    const Run some = run(text, tools, true, wanted);
    REQUIRE(some.events.size() == 4);
    CHECK(some.events[0].inode_tool == "ping");
    CHECK_FALSE(some.events[1].has_inode);  // not a tool's file: its PATH never went on
    CHECK(some.fed.find("audit(1700000000.100:2): item=0") == std::string::npos);
    // What the filter cannot read goes on for the normalizer to judge and count.
    CHECK(some.fed.find("audit(1700000000.100:3): item=0") != std::string::npos);
    CHECK(some.fed.find("audit(1700000000.100:4): item=0") != std::string::npos);
    CHECK(some.normalizer.bad_fields == all.normalizer.bad_fields);
    CHECK(some.filter.records_skipped == all.filter.records_skipped + 1);
    for (std::size_t i = 0; i < all.events.size(); ++i) {
        INFO(i);
        CHECK(some.events[i].inode_tool == all.events[i].inode_tool);
    }
}
