#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "parsers/auparse_feed.h"
#include "parsers/event_key.h"
#include "tests/parsers/normalize_text.h"

using scanwatch::parsers::audit_stamp;
using scanwatch::parsers::Malformed;
using scanwatch::parsers::record_event_key;

TEST_CASE("Event key: the stamp is taken only as the kernel writes it", "[event-key]") {
    CHECK(audit_stamp("type=EOE msg=audit(1700000000.005:7): ") == "1700000000.005:7");
    CHECK(audit_stamp("type=EOE msg=audit(0.000:0): ") == "0.000:0");
    CHECK(audit_stamp("node=a type=SYSCALL msg=audit(999999999999.999:9999999999999999999): x") ==
          "999999999999.999:9999999999999999999");
    // libauparse reads each of these as 1700000000.005:7 too: keyed apart, they would never
    // match the key of the complete event.
    for (const char* bad : {"1700000000.5:7", "1700000000.05:7", "1700000000.0005:7",
                            "01700000000.005:7", "1700000000.005:07", "+1700000000.005:7",
                            "1700000000.005:", ".005:7", "1700000000.00x:7", "1700000000.005",
                            "9999999999999.005:7", "1700000000.005:99999999999999999999",
                            "1700000000.005:7x", "1700000000).005:7", "1700000000.0:05:7", "1.005:7.1"}) {
        INFO(bad);
        CHECK(audit_stamp(std::string("type=EOE msg=audit(") + bad + "): ").empty());
        CHECK(record_event_key(std::string("type=EOE msg=audit(") + bad + "): ").empty());
    }
    CHECK(audit_stamp("type=EOE msg=audit(1700000000.005:7").empty());
    CHECK(audit_stamp("type=EOE").empty());
}

TEST_CASE("Event key: a record's key is the key of its complete event in auparse", "[event-key]") {
    const std::vector<std::string> records = {
        "type=SYSCALL msg=audit(1700000000.005:7): arch=c000003e syscall=59 success=yes pid=2 ppid=1",
        "node=web-1 type=SYSCALL msg=audit(1700000001.120:4294967295): arch=c000003e syscall=59 "
        "success=yes pid=2 ppid=1",
        "type=SYSCALL msg=audit(999999999999.999:1): arch=c000003e syscall=59 success=yes pid=2 ppid=1",
    };
    for (const auto& record : records) {
        INFO(record);
        std::vector<std::string> keys;
        scanwatch::parsers::AuparseFeed feed(
            [&](auparse_state_t* au) { keys.push_back(scanwatch::parsers::event_key(au)); });
        feed.feed(record + "\n");
        feed.flush();
        REQUIRE(keys.size() == 1);
        CHECK(keys[0] == record_event_key(record));
    }
    CHECK(record_event_key(records[1]) == "web-1 1700000001.120:4294967295");
    CHECK(record_event_key(records[0]) == " 1700000000.005:7");
}

TEST_CASE("Event key: the filter drops records whose stamp is not canonical, as bad_header",
          "[event-key][filter]") {
    // One event written two ways: before, its records got two keys (pinning tail's resume
    // offset); now the odd ones are malformed and the event is the canonical records alone.
    const std::string text =
        "type=SYSCALL msg=audit(1700000000.005:7): arch=c000003e syscall=59 success=yes pid=2 "
        "ppid=1 comm=\"ping\" exe=\"/bin/ping\"\n"
        "type=EXECVE msg=audit(1700000000.5:7): argc=2 a0=\"ping\" a1=\"10.0.0.1\"\n"
        "type=EXECVE msg=audit(1700000000.005:7): argc=1 a0=\"ping\"\n"
        "type=EOE msg=audit(1700000000.005:7): \n";
    const auto r = scanwatch::test::normalize_text(text);
    CHECK(r.filter.malformed[static_cast<std::size_t>(Malformed::bad_header)] == 1);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].args == std::vector<std::string>{"ping"});
    CHECK(r.events[0].event_id() == "1700000000.005:7");
}
