#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "parsers/ecs/ecs_event.h"

using scanwatch::format_timestamp;

TEST_CASE("ECS event: timestamps are UTC with milliseconds, whatever the order of calls", "[ecs]") {
    CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
    CHECK(format_timestamp(1795813416566) == "2026-11-27T21:03:36.566Z");
    CHECK(format_timestamp(1795813416999) == "2026-11-27T21:03:36.999Z");  // same second again
    CHECK(format_timestamp(1795813417000) == "2026-11-27T21:03:37.000Z");  // the next one
    CHECK(format_timestamp(1795813416001) == "2026-11-27T21:03:36.001Z");  // back again
    CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format_timestamp(-1000) == "1969-12-31T23:59:59.000Z");
    CHECK(format_timestamp(951782400123) == "2000-02-29T00:00:00.123Z");
}

TEST_CASE("ECS event: years past 9999 and before 0000 are written whole", "[ecs]") {
    CHECK(format_timestamp(253402300799999) == "9999-12-31T23:59:59.999Z");
    CHECK(format_timestamp(253402300800000) == "+10000-01-01T00:00:00.000Z");
    CHECK(format_timestamp(253402300800000) == "+10000-01-01T00:00:00.000Z");  // cached path
    CHECK(format_timestamp(-62167219200000) == "0000-01-01T00:00:00.000Z");
    CHECK(format_timestamp(-62167219200001) == "-0001-12-31T23:59:59.999Z");
    // The engines clamp event times to +-2^60 ms; the extremes of int64 still format whole.
    CHECK(format_timestamp(std::int64_t{1} << 60).rfind("+36536598-01-28T", 0) == 0);
    CHECK(format_timestamp(std::numeric_limits<std::int64_t>::max()).rfind("+292278994-08-17T", 0) == 0);
    CHECK(format_timestamp(std::numeric_limits<std::int64_t>::min()).rfind("-292275055-05-1", 0) == 0);
    CHECK(format_timestamp(1795813416566) == "2026-11-27T21:03:36.566Z");  // cache still right
}
