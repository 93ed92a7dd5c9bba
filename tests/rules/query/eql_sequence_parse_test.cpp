// EQL sequences and samples: every form Elastic's rules write, and the errors (docs/rules.md,
// "EQL sequences").
#include <string>

#include "tests/rules/query/eql_test_support.h"

using eql_test::Event;
using eql_test::MapAccessor;
using eql_test::must_fail;
using eql_test::must_parse;

TEST_CASE("EQL sequence: by, maxspan, terms with their own keys", "[eql][sequence]") {
    const auto q = must_parse(
        "sequence by user.id with maxspan=30s\n"
        "  [process where process.name == \"curl\"] by process.executable\n"
        "  [network where source.ip != null] by process.working_directory\n");
    REQUIRE(q.sequence);
    CHECK(q.category == "sequence");
    const auto& s = *q.sequence;
    CHECK_FALSE(s.sample);
    CHECK(s.maxspan_ms == 30'000);
    CHECK(s.sequence_keys == 1);
    REQUIRE(s.stages.size() == 2);
    CHECK(s.stages[0].category == "process");
    CHECK(s.stages[1].category == "network");
    CHECK(s.stages[0].key_names == std::vector<std::string>{"user.id", "process.executable"});
    CHECK(s.stages[1].key_names ==
          std::vector<std::string>{"user.id", "process.working_directory"});
    CHECK(s.stages[0].query.matches(MapAccessor(Event{{"process.name", {"curl"}}})));
    CHECK_FALSE(s.stages[0].query.matches(MapAccessor(Event{{"process.name", {"wget"}}})));
    CHECK_FALSE(s.has_until);
    // The rule's query is any term's condition: what the rule may read and use.
    CHECK(q.query.matches(MapAccessor(Event{{"process.name", {"curl"}}})));
    CHECK(q.query.matches(MapAccessor(Event{{"source.ip", {"127.0.0.1"}}})));
    CHECK_FALSE(q.query.matches(MapAccessor(Event{{"process.name", {"ls"}}})));
}

TEST_CASE("EQL sequence: maxspan units and the order of by and with", "[eql][sequence]") {
    const std::pair<const char*, std::int64_t> spans[] = {
        {"500ms", 500}, {"5s", 5000}, {"2m", 120'000}, {"1h", 3'600'000}, {"1d", 86'400'000}};
    for (const auto& [text, ms] : spans) {
        INFO(text);
        const auto q = must_parse(std::string("sequence with maxspan=") + text +
                                  " by user.id [process where user.id != null] "
                                  "[process where user.id != null]");
        CHECK(q.sequence->maxspan_ms == ms);
        CHECK(q.sequence->stages[0].key_names == std::vector<std::string>{"user.id"});
    }
    const auto none = must_parse("sequence [process where user.id != null] [any where user.id != null]");
    CHECK(none.sequence->maxspan_ms == 0);
    CHECK(none.sequence->stages[1].category == "any");
}

TEST_CASE("EQL sequence: runs expand, missing events, until", "[eql][sequence]") {
    const auto q = must_parse(
        "sequence by user.id with maxspan=1m\n"
        "  ![process where process.name == \"a\"]\n"
        "  [process where process.name == \"b\"] with runs=3\n"
        "  ![process where process.name == \"c\"]\n"
        "  [process where process.name == \"d\"]\n"
        "until [process where process.name == \"stop\"]");
    const auto& s = *q.sequence;
    REQUIRE(s.stages.size() == 6);
    CHECK(s.stages[0].missing);
    for (std::size_t i = 1; i <= 3; ++i) {
        CHECK_FALSE(s.stages[i].missing);
        CHECK(s.stages[i].written == 1);
    }
    CHECK(s.stages[4].missing);
    CHECK(s.stages[5].written == 3);
    REQUIRE(s.has_until);
    CHECK(s.until.key_names == std::vector<std::string>{"user.id"});
    CHECK(s.until.query.matches(MapAccessor(Event{{"process.name", {"stop"}}})));
}

TEST_CASE("EQL sample: unordered terms by keys", "[eql][sequence]") {
    const auto q = must_parse(
        "sample by user.id, ?process.executable\n"
        "  [process where process.name == \"a\"] by process.args\n"
        "  [network where source.ip != null] by process.working_directory\n"
        "  [process where process.name == \"c\"] by process.name\n");
    CHECK(q.category == "sample");
    REQUIRE(q.sequence->sample);
    REQUIRE(q.sequence->stages.size() == 3);
    CHECK(q.sequence->stages[0].key_optional == std::vector<char>{0, 1, 0});
    CHECK(q.sequence->stages[2].key_names ==
          std::vector<std::string>{"user.id", "process.executable", "process.name"});
}

TEST_CASE("EQL sequence: errors name what was expected and where", "[eql][sequence]") {
    struct Case {
        const char* query;
        const char* message;
        int line;
        int column;
    };
    const Case cases[] = {
        {"sequence [process where user.id != null]", "needs at least two terms", 1, 1},
        {"sequence by", "expected a field to join on", 1, 12},
        {"sequence with maxspan=5 [process where user.id != null] [process where user.id != null]",
         "maxspan needs a time unit", 1, 23},
        {"sequence with maxspan=5 s [process where user.id != null]", "maxspan needs a time unit", 1, 23},
        {"sequence with maxspan=5y [process where user.id != null]", "maxspan needs a time unit", 1, 24},
        {"sequence with maxspan=0s [process where user.id != null]", "positive whole number", 1, 23},
        {"sequence with maxspan=1.5s [process where user.id != null]", "positive whole number", 1, 23},
        {"sequence with span=5s [process where user.id != null]", "expected \"maxspan\"", 1, 15},
        {"sequence with maxspan 5s", "expected \"=\" after \"maxspan\"", 1, 23},
        {"sequence [process where user.id != null] with runs=0 [process where user.id != null]",
         "positive whole number", 1, 52},
        {"sequence [process where user.id != null] with runs=101 [process where user.id != null]",
         "runs=101 is out of range", 1, 52},
        {"sequence [process where user.id != null] with runs=100 [process where user.id != null] "
         "with runs=29",
         "too many terms", 1, 56},
        {"sequence [process user.id != null] [process where user.id != null]",
         "expected \"where\"", 1, 19},
        {"sequence [process where user.id != null [process where user.id != null]",
         "expected \"and\", \"or\" or \"]\"", 1, 41},
        {"sequence [process where user.id != null] [process where user.id != null",
         "this \"[\" is never closed", 1, 42},
        {"sequence [process where user.id != null] [process where ]", "expected a condition", 1, 57},
        {"sequence [where user.id != null] [process where user.id != null]",
         "expected an event category", 1, 11},
        {"sequence ![process where user.id != null] ![process where user.id != null]",
         "at least one term that is not a missing event", 1, 1},
        {"sequence by user.id [process where user.id != null] by process.name "
         "[process where user.id != null]",
         "inconsistent number of join keys: expected 1 but found 0", 1, 69},
        {"sequence [process where user.id != null] ![process where user.id != null] with runs=2",
         "a missing event takes no \"with runs\"", 1, 75},
        {"sequence [process where user.id != null] [process where user.id != null] until "
         "![process where user.id != null]",
         "may only be a term of a sequence", 1, 80},
        {"sequence [process where user.id != null] [process where user.id != null] | head 1",
         "pipes", 1, 74},
        {"sequence [process where user.id != null] [process where user.id != null] by",
         "expected a field to join on", 1, 76},
        {"sequence [process where user.id != null] [process where user.id != null] foo",
         "expected \"[\", \"![\", \"until\" or end of query", 1, 74},
        {"sample with maxspan=1s [process where user.id != null] [process where user.id != null]",
         "a sample takes no \"with\"", 1, 8},
        {"sample [process where user.id != null] ![process where user.id != null]",
         "may only be a term of a sequence", 1, 40},
        {"sample [process where user.id != null] [process where user.id != null] until "
         "[process where user.id != null]",
         "expected \"[\" or end of query", 1, 72},
        {"sequence [process where no.such == 1] [process where user.id != null]",
         "unknown field \"no.such\"", 1, 25},
        {"sequence by no.such [process where user.id != null] [process where user.id != null]",
         "unknown field \"no.such\"", 1, 13},
        {"join [process where user.id != null] [process where user.id != null]",
         "join queries are not supported", 1, 1},
    };
    for (const auto& c : cases) {
        INFO(c.query);
        const auto e = must_fail(c.query);
        CHECK_THAT(e.message, Catch::Contains(c.message));
        CHECK(e.line == c.line);
        CHECK(e.column == c.column);
    }
}

TEST_CASE("EQL sequence: one term with runs=2 or more is a sequence", "[eql][sequence]") {
    const auto q = must_parse("sequence by user.id with maxspan=1s [process where user.id != null] with runs = 20");
    CHECK(q.sequence->stages.size() == 20);
    CHECK_THAT(must_fail("sequence [process where user.id != null] with runs=1").message,
               Catch::Contains("at least two terms"));
    CHECK_THAT(must_fail("sample [process where user.id != null]").message,
               Catch::Contains("a sample needs at least two terms"));
}

TEST_CASE("EQL sequence: a single-event query is not a sequence", "[eql][sequence]") {
    CHECK_FALSE(must_parse("process where user.id != null").sequence);
    // `=` is still refused in a condition, with its message.
    CHECK_THAT(must_fail("sequence [process where user.id = \"0\"] [process where user.id != null]").message,
               Catch::Contains("\"=\" is not an operator"));
}
