#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "rules/event_fields.h"
#include "rules/query/query.h"
#include "rules/rule_check.h"

using scanwatch::EventKind;
using scanwatch::ProcessEvent;
using scanwatch::rules::EventFields;
using scanwatch::rules::FieldCatalog;
using scanwatch::rules::NameMatch;
using scanwatch::rules::Query;

namespace {

ProcessEvent connect_event() {
    ProcessEvent e;
    e.kind = EventKind::connect;
    e.syscall = "connect";
    e.name = "nc";
    e.executable = "/usr/bin/nc.openbsd";
    e.network.destination_ip = "10.0.0.7";
    e.network.destination_port = 22;
    e.network.type = "ipv4";
    e.network.transport = "tcp";
    e.network.outcome = "unknown";
    return e;
}

bool matches(const std::string& kql, const ProcessEvent& e) {
    FieldCatalog catalog;
    auto parsed = Query::parse(kql, catalog.resolver());
    REQUIRE(std::holds_alternative<Query>(parsed));
    return std::get<Query>(parsed).matches(EventFields(e, NameMatch::any));
}

}  // namespace

TEST_CASE("Network fields: a connect event reads as Auditbeat's connected-to", "[rules][network]") {
    const ProcessEvent e = connect_event();
    CHECK(matches("event.category:network and event.action:connected-to", e));
    CHECK(matches("event.type:connection and event.type:start", e));
    CHECK(matches("destination.ip:10.0.0.7 and destination.port:22", e));
    CHECK(matches("network.direction:egress and network.transport:tcp and network.type:ipv4", e));
    CHECK(matches("event.outcome:unknown", e));
    CHECK_FALSE(matches("event.category:process", e));
    CHECK_FALSE(matches("event.action:executed", e));
    ProcessEvent exec;
    exec.name = "nc";
    CHECK(matches("event.category:process and event.type:start", exec));
    CHECK_FALSE(matches("destination.port:*", exec));
    CHECK_FALSE(matches("network.direction:egress", exec));
}

TEST_CASE("Network fields: the static check knows the network event shapes", "[rules][network]") {
    FieldCatalog catalog;
    const auto q = [&](const std::string& kql) {
        auto parsed = Query::parse(kql, catalog.resolver());
        REQUIRE(std::holds_alternative<Query>(parsed));
        return std::get<Query>(std::move(parsed));
    };
    CHECK(scanwatch::rules::query_may_match_network(q("event.category:network and event.action:connected-to")));
    CHECK_FALSE(scanwatch::rules::query_may_match_exec(q("event.category:network and event.action:connected-to")));
    CHECK(scanwatch::rules::query_may_match_network(q("event.action:created-socket")));
    CHECK_FALSE(scanwatch::rules::query_may_match_network(q("event.category:network and event.action:connection_attempted")));
    CHECK(scanwatch::rules::query_may_match_exec(q("event.category:process and process.name:nc")));
    CHECK_FALSE(scanwatch::rules::query_may_match_network(q("event.category:process and process.name:nc")));
}
