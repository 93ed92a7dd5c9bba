#include <catch2/catch.hpp>

#include "agent/outputs/output_spec.h"

using namespace scanwatch::agent;

TEST_CASE("output spec: relp://HOST:PORT with options", "[outputs][relp]") {
    std::string error;
    auto t = parse_output_spec("relp://127.0.0.1:2514", error);
    REQUIRE(t);
    CHECK(t->kind == OutputKind::relp);
    CHECK(t->host == "127.0.0.1");
    CHECK(t->port == 2514);
    CHECK_FALSE(t->is_syslog());
    t = parse_output_spec("relp://[::1]:20514?facility=local3&backlog=7", error);
    REQUIRE(t);
    CHECK(t->host == "::1");
    CHECK(t->facility == 19);
    CHECK(t->backlog == 7);
}

TEST_CASE("output spec: bad relp specs name what is wrong", "[outputs][relp]") {
    std::string error;
    CHECK_FALSE(parse_output_spec("relp://host", error));
    CHECK(error.find("no port") != std::string::npos);
    CHECK_FALSE(parse_output_spec("relp://host:0", error));
    CHECK_FALSE(parse_output_spec("relp://:514", error));
    CHECK_FALSE(parse_events_spec("relp://h:1", error));
    CHECK(error.find("alerts only") != std::string::npos);
}
