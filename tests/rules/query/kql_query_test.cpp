#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/query/query.h"
#include "tests/rules/query/kql_test_support.h"

using namespace kql_test;

TEST_CASE("KQL: parse errors name what was expected and where", "[kql]") {
    struct Case {
        const char* query;
        const char* message;
        int line;
        int column;
    };
    const Case cases[] = {
        // unknown field
        {"foo.bar:x", "unknown field \"foo.bar\"", 1, 1},
        {"user.name:a and\n   foo.bar:x", "unknown field \"foo.bar\"", 2, 4},
        // missing colon
        {"user.name:a and\nuser.name:b or process.name or x",
         "expected ':' after field \"process.name\", found \"or\"", 2, 29},
        {"event.type:start and\n    process.name   or user.name:x",
         "expected ':' after field \"process.name\", found \"or\"", 2, 20},
        {"process.name", "expected ':' after field \"process.name\", found end of query", 1, 13},
        // missing value
        {"process.name:", "expected a value after \"process.name:\", found end of query", 1, 14},
        {"process.name: and user.name:x", "expected a value after \"process.name:\", found \"and\"",
         1, 15},
        {"process.name:)", "expected a value after \"process.name:\", found \")\"", 1, 14},
        {"process.name:()",
         "expected a value or \"(\" in the value list of \"process.name\", found \")\"", 1, 15},
        {"process.name:(a or)",
         "expected a value or \"(\" in the value list of \"process.name\", found \")\"", 1, 19},
        // unterminated quote: reported where the quote opens
        {"user.name:a or\nprocess.name:\"ping", "unterminated quoted value", 2, 14},
        {"process.name:\"a\\\"", "unterminated quoted value", 1, 14},
        // unbalanced parentheses
        {"(user.name:a or process.name:b", "unbalanced parenthesis: this \"(\" is never closed", 1,
         1},
        {"user.name:a and\n  ((process.name:b)",
         "unbalanced parenthesis: this \"(\" is never closed", 2, 3},
        {"process.name:(a or b", "unbalanced parenthesis: this \"(\" is never closed", 1, 14},
        {"user.name:a)", "unbalanced parenthesis: \")\" has no matching \"(\"", 1, 12},
        {"()", "expected a field name or \"(\", found \")\"", 1, 2},
        // trailing garbage / missing operator
        {"user.name:a user.name:b", "expected \"and\", \"or\" or end of query, found \"user.name\"",
         1, 13},
        {"user.name:a:b", "expected \"and\", \"or\" or end of query, found \":\"", 1, 12},
        {"(user.name:a user.name:b)", "expected \"and\", \"or\" or \")\", found \"user.name\"", 1,
         14},
        {"user.name:a and", "expected a field name or \"(\", found end of query", 1, 16},
        {"and user.name:a", "expected a field name or \"(\", found \"and\"", 1, 1},
        {"user.name:a or or user.name:b", "expected a field name or \"(\", found \"or\"", 1, 16},
        {"not", "expected a field name or \"(\", found end of query", 1, 4},
        // empty query
        {"", "empty query", 1, 1},
        {"  \n\t \n", "empty query", 1, 1},
        // ranges, nested queries, bare values
        {"user.name:a or\n  process.args_count > ", "expected a value after \"process.args_count >\"",
         2, 24},
        {"process.args_count >= (1 or 2)", "found \"(\"", 1, 23},
        {"process.args_count < 1*", "a range value cannot hold a wildcard", 1, 22},
        {"process.name:<=5", "expected a value after \"process.name:\", found \"<=\"", 1, 14},
        {"user.name:{ x:y }", "nested queries are not supported", 1, 11},
        {"ping", "a value needs a field (field:value), found \"ping\"", 1, 1},
        {"user.name:a or 10.0.0.1", "a value needs a field (field:value), found \"10.0.0.1\"", 1,
         16},
        {"user.name:a or\n  ping and user.name:b",
         "a value needs a field (field:value), found \"ping\"", 2, 3},
        {"user.name:a or hping*", "a value needs a field (field:value), found \"hping*\"", 1, 16},
        {"\"ping\"", "a value needs a field (field:value), found quoted value \"ping\"", 1, 1},
        {"\"user.name\":x", "quoted field names are not supported", 1, 1},
        // field names
        {"user.*:x", "wildcard field names are not supported", 1, 1},
        {"user$name:x", "invalid character \"$\" in field name \"user$name\"", 1, 1},
        {"us\\:er:x", "invalid character \"\\\" in field name", 1, 1},
        // keyword as value
        {"process.name:or",
         "expected a value after \"process.name:\", found \"or\" (quote a keyword", 1, 14},
        {"process.name:NOT curl", "expected a value after \"process.name:\", found \"NOT\"", 1, 14},
        // escapes
        {"process.args:a\\x", "invalid escape \"\\x\" in unquoted value", 1, 15},
        {"process.args:a\\", "a backslash at the end of the query escapes nothing", 1, 15},
        {"process.args:\\u12G4", "invalid unicode escape: \\u needs 4 hex digits", 1, 14},
        {"process.args:\"\\ud800\"", "invalid unicode escape \"\\ud800\": unpaired surrogate", 1,
         15},
        // columns count characters, not bytes
        {"process.args:\xc3\xa9t\xc3\xa9 user.name:x", "found \"user.name\"", 1, 18},
    };
    for (const Case& c : cases) {
        INFO("query: " << c.query);
        const QueryError error = must_fail(c.query);
        CHECK_THAT(error.message, Catch::Contains(c.message));
        CHECK(error.line == c.line);
        CHECK(error.column == c.column);
    }
}

TEST_CASE("KQL: nesting depth and query length are limited", "[kql]") {
    SECTION("64 levels are fine, 65 are an error") {
        const std::string ok = std::string(64, '(') + "user.name:a" + std::string(64, ')');
        CHECK(matches(ok, Event{{"user.name", {"a"}}}));
        const std::string deep = std::string(65, '(') + "user.name:a" + std::string(65, ')');
        const QueryError error = must_fail(deep);
        CHECK_THAT(error.message, Catch::Contains("nesting too deep"));
        CHECK(error.line == 1);
        CHECK(error.column == 65);
    }
    SECTION("not chains count as nesting") {
        std::string deep;
        for (int i = 0; i < 1000; ++i) deep += "not ";
        deep += "user.name:a";
        const QueryError error = must_fail(deep);
        CHECK_THAT(error.message, Catch::Contains("nesting too deep"));
        CHECK(error.column == 64 * 4 + 1);
    }
    SECTION("value lists count too") {
        const std::string deep =
            "user.name:" + std::string(100000 / 2, '(') + "a" + std::string(100000 / 2, ')');
        CHECK_THAT(must_fail(deep).message, Catch::Contains("too long"));
        const std::string nested = "user.name:" + std::string(70, '(') + "a" + std::string(70, ')');
        const QueryError error = must_fail(nested);
        CHECK_THAT(error.message, Catch::Contains("nesting too deep"));
        CHECK(error.column == 11 + 64);
    }
    SECTION("length") {
        std::string long_query = "user.name:a";
        while (long_query.size() <= 64 * 1024) long_query += " or user.name:a";
        CHECK_THAT(must_fail(long_query).message, Catch::Contains("query too long"));
        // Long but within the limit, and flat: fine.
        std::string flat = "user.name:a";
        while (flat.size() < 60 * 1024) flat += " or user.name:b";
        CHECK(matches(flat, Event{{"user.name", {"b"}}}));
    }
}

TEST_CASE("KQL: field_ids lists fields in first-use order without duplicates", "[kql]") {
    const Query seed = must_parse(kSeedQuery);
    CHECK(seed.field_ids() == std::vector<int>{id_of("event.category"), id_of("host.os.type"),
                                               id_of("event.action"), id_of("event.type"),
                                               id_of("process.name")});
    const Query query = must_parse(
        "user.name:a or (process.name:b and not user.name:c) or @timestamp:* or file-path_x:y");
    CHECK(query.field_ids() == std::vector<int>{id_of("user.name"), id_of("process.name"),
                                                id_of("@timestamp"), id_of("file-path_x")});
    CHECK(Query().field_ids().empty());
}

TEST_CASE("KQL: to_string gives canonical text", "[kql]") {
    CHECK(must_parse("(user.name:x OR user.name:y) AND NOT process.name:*").to_string() ==
          "(user.name:x or user.name:y) and not process.name:*");
    CHECK(must_parse("user.name:(x or y) and not process.name:*").to_string() ==
          "(user.name:x or user.name:y) and not process.name:*");
    CHECK(must_parse("  user.name : x  ").to_string() == "user.name:x");
    CHECK(must_parse("user.name:x or process.name:y and event.type:z").to_string() ==
          "user.name:x or process.name:y and event.type:z");
    CHECK(must_parse("(user.name:x or process.name:y) and event.type:z").to_string() ==
          "(user.name:x or process.name:y) and event.type:z");
    CHECK(must_parse("not (user.name:x and process.name:y)").to_string() ==
          "not (user.name:x and process.name:y)");
    CHECK(must_parse("((user.name:x))").to_string() == "user.name:x");
    CHECK(must_parse(R"(user.name:"a b" or user.name:"or" or user.name:a\:b or user.name:"")")
              .to_string() ==
          R"(user.name:"a b" or user.name:"or" or user.name:"a:b" or user.name:"")");
    CHECK(must_parse(R"(user.name:a\*b* or user.name:\?x?)").to_string() ==
          R"(user.name:a\*b* or user.name:"?x?")");
    CHECK(must_parse("user.name:a**b").to_string() == "user.name:a*b");
    CHECK(Query().to_string().empty());
}

TEST_CASE("KQL: to_string round trip matches the same events", "[kql]") {
    const std::vector<std::string> queries = {
        std::string(kSeedQuery),
        "(user.name:x or user.name:y) and not process.name:*",
        "not not user.name:a or process.args:(-c and not (5 or 6))",
        R"(process.args:("a b" or "q\"uote" or "back\\slash" or a\:b or \* or x\ y*))"
        R"( or process.args:("tab\t" or \or))",
        R"(process.args:(*\(* or ?\?* or "*" or "?" or "" or "line\nbreak" or "\u00e9"))",
        "process.name:(hping* and not hping3) or process.args:(*10.0.* and -c)",
        "not (user.name:a and (process.name:b or not event.type:c)) and process.args:*",
    };
    const std::vector<Event> events = {
        ping_event(),
        with(ping_event(), "event.action", {"exit"}),
        Event{{"user.name", {"x"}}},
        Event{{"user.name", {"y"}}, {"process.name", {"p"}}},
        Event{{"user.name", {"a"}}, {"process.args", {"-c", "7"}}},
        Event{{"process.args", {"a b", "q\"uote", "back\\slash", "a:b"}}},
        Event{{"process.args", {"*"}}},
        Event{{"process.args", {"x y z"}}},
        Event{{"process.args", {"tab\t"}}},
        Event{{"process.args", {"or"}}},
        Event{{"process.args", {"f(x)"}}},
        Event{{"process.args", {"a?bc"}}},
        Event{{"process.args", {"?"}}},
        Event{{"process.args", {""}}},
        Event{{"process.args", {"line\nbreak"}}},
        Event{{"process.args", {"\xc3\xa9"}}},
        Event{{"process.name", {"hping2"}}},
        Event{{"process.name", {"hping3"}}, {"process.args", {"10.0.0.1", "-c"}}},
        Event{{"process.args", {"anything"}}},
        Event{{"user.name", {"a"}}, {"process.name", {"b"}}, {"process.args", {"z"}}},
    };
    for (const std::string& text : queries) {
        const Query query = must_parse(text);
        const std::string canonical = query.to_string();
        INFO("query: " << text << "\ncanonical: " << canonical);
        const Query again = must_parse(canonical);
        CHECK(again.to_string() == canonical);
        CHECK(again.field_ids() == query.field_ids());
        for (const Event& event : events) {
            CHECK(again.matches(MapAccessor(event)) == query.matches(MapAccessor(event)));
        }
    }
}

TEST_CASE("KQL: required_values for the seed query", "[kql]") {
    const Query seed = must_parse(kSeedQuery);
    CHECK(seed.required_values(id_of("process.name")) ==
          std::vector<std::string>{"ping", "nping", "hping", "hping2", "hping3", "nc", "ncat",
                                   "netcat", "socat"});
    CHECK(seed.required_values(id_of("event.category")) == std::vector<std::string>{"process"});
    CHECK(seed.required_values(id_of("event.action")) ==
          std::vector<std::string>{"exec", "exec_event", "executed", "process_started"});
    CHECK(seed.required_values(id_of("user.name")).empty());  // not in the query
}

TEST_CASE("KQL: required_values is empty unless the field is pinned to literals", "[kql]") {
    const int name = id_of("process.name");
    CHECK(must_parse("process.name:ping").required_values(name) ==
          std::vector<std::string>{"ping"});
    CHECK(must_parse("process.name:ping or process.name:nc").required_values(name) ==
          std::vector<std::string>{"ping", "nc"});
    CHECK(must_parse("process.name:(ping or ping)").required_values(name) ==
          std::vector<std::string>{"ping"});
    CHECK(must_parse("process.name:\"a*\"").required_values(name) ==
          std::vector<std::string>{"a*"});
    CHECK(must_parse(R"(process.name:a\*)").required_values(name) ==
          std::vector<std::string>{"a*"});
    // A necessary condition only: the smaller of two pinned sets.
    CHECK(must_parse("process.name:(a or b) and user.name:x and process.name:b")
              .required_values(name) == std::vector<std::string>{"b"});
    CHECK(must_parse("process.name:(a and b)").required_values(name) ==
          std::vector<std::string>{"a"});
    CHECK(must_parse("process.name:(ping or hping*)").required_values(name).empty());
    CHECK(must_parse("process.name:*").required_values(name).empty());
    CHECK(must_parse("process.name:ping or user.name:x").required_values(name).empty());
    CHECK(must_parse("process.name:ping and not process.name:nc").required_values(name).empty());
    CHECK(must_parse("not process.name:ping").required_values(name).empty());
    CHECK(must_parse("user.name:x and (process.name:a or user.name:y)")
              .required_values(name)
              .empty());
    CHECK(must_parse("process.name:(ping or (nc and not x))").required_values(name).empty());
    CHECK(Query().required_values(name).empty());
}

TEST_CASE("KQL: a default-constructed query matches nothing", "[kql]") {
    const Query query;
    CHECK_FALSE(query.matches(MapAccessor(ping_event())));
}

TEST_CASE("KQL: a query is shareable and independent of its text", "[kql]") {
    std::string text = "process.name:ping";
    const Query query = must_parse(text);
    text.assign(text.size(), 'x');
    const Query copy = query;
    CHECK(copy.matches(MapAccessor(ping_event())));
    CHECK(copy.to_string() == "process.name:ping");
}

TEST_CASE("KQL: a resolver failure is an error, not an exception", "[kql]") {
    const auto throwing = [](std::string_view) -> int { throw std::runtime_error("boom"); };
    auto result = Query::parse("user.name:a", throwing);
    REQUIRE(std::holds_alternative<QueryError>(result));
    CHECK_THAT(std::get<QueryError>(result).message, Catch::Contains("boom"));
    auto no_resolver = Query::parse("user.name:a", scanwatch::rules::FieldResolver());
    REQUIRE(std::holds_alternative<QueryError>(no_resolver));
}

TEST_CASE("KQL: the deepest query accepted prints, re-parses, matches and checks", "[kql]") {
    // Each "not (" is two levels; alternating or/and keeps every level a node of the tree.
    std::string text = "user.name:a";
    for (int i = 0; i < 32; ++i) {  // 64 levels: the limit
        text = std::string(i % 2 == 0 ? "not (user.name:b or " : "not (user.name:b and ") + text + ")";
    }
    const Query query = must_parse(text);
    const std::string printed = query.to_string();
    CHECK(must_parse(printed).to_string() == printed);
    const Event a{{"user.name", {"a"}}};
    const Event b{{"user.name", {"b"}}};
    CHECK(query.matches(MapAccessor(a)) == must_parse(printed).matches(MapAccessor(a)));
    CHECK(query.matches(MapAccessor(b)) == must_parse(printed).matches(MapAccessor(b)));
    const auto known = [](int) { return true; };
    CHECK(query.may_match(MapAccessor(a), known) == query.matches(MapAccessor(a)));
    CHECK(query.must_match(MapAccessor(b), known) == query.matches(MapAccessor(b)));
    CHECK_THAT(must_fail("not " + text).message, Catch::Contains("nesting too deep"));
}

TEST_CASE("KQL: with_alias adds a literal where a test names one of the values", "[kql][alias]") {
    const int action = id_of("event.action");
    std::size_t added = 0;
    const std::vector<std::string> names = {"exec", "start"};
    const auto alias = [&](std::string_view text) {
        return must_parse(text).with_alias(action, names, "executed", added);
    };
    CHECK(alias("event.action:(exec or fork) and process.name:x").to_string() ==
          "(event.action:exec or event.action:fork or event.action:executed) and process.name:x");
    CHECK(added == 1);
    CHECK(alias("not event.action:start").to_string() ==
          "not (event.action:start or event.action:executed)");
    CHECK(added == 1);
    // Already accepted: nothing to add; other values and wildcards are not aliases.
    CHECK(alias("event.action:(exec or executed)").to_string() ==
          "event.action:exec or event.action:executed");
    CHECK(added == 0);
    CHECK(alias("event.action:exe*").to_string() == "event.action:exe*");
    CHECK(added == 0);
    CHECK(alias("event.action:fork or user.name:exec").to_string() ==
          "event.action:fork or user.name:exec");
    CHECK(added == 0);
    const Query q = alias("event.category:process and event.action:exec");
    CHECK(q.matches(MapAccessor(Event{{"event.category", {"process"}}, {"event.action", {"executed"}}})));
    CHECK(q.matches(MapAccessor(Event{{"event.category", {"process"}}, {"event.action", {"exec"}}})));
    CHECK_FALSE(q.matches(MapAccessor(Event{{"event.category", {"process"}}, {"event.action", {"fork"}}})));
}
