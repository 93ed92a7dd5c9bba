#include <catch2/catch.hpp>

#include "parsers/ecs_event.h"

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
