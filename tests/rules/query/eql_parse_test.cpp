// EQL parsing: categories, comments and strings, canonical printing, errors with positions,
// limits, and the static checks a rule check runs (docs/rules.md, "EQL queries").
#include <functional>
#include <string>

#include "tests/rules/query/eql_test_support.h"

using eql_test::Event;
using eql_test::MapAccessor;
using eql_test::must_fail;
using eql_test::must_parse;
using eql_test::resolve;

TEST_CASE("EQL: the category comes before where", "[eql]") {
    CHECK(must_parse("process where process.name == \"a\"").category == "process");
    CHECK(must_parse("any where process.name == \"a\"").category == "any");
    CHECK(must_parse("network where process.name == \"a\"").category ==
          "network");
    CHECK(must_parse("\"file\" where process.name == \"a\"").category == "file");
}

TEST_CASE("EQL: comments, raw strings and escapes", "[eql]") {
    const auto q = must_parse(
        "process where /* a block\n comment */ process.name in (\n"
        "  // a line comment\n"
        "  \"a\\\"b\", \"c\\\\d\", \"tab\\there\", \"\\u{e9}\", \"\"\"raw\\n\"\"\"\n)");
    const Event event = {{"process.name", {"raw\\n"}}};
    CHECK(q.query.matches(MapAccessor(event)));
    for (const char* value : {"a\"b", "c\\d", "tab\there", "\xc3\xa9"}) {
        INFO(value);
        CHECK(q.query.matches(MapAccessor(Event{{"process.name", {value}}})));
    }
    CHECK(q.query.to_string() ==
          "process.name in (\"a\\\"b\", \"c\\\\d\", \"tab\\there\", \"\xc3\xa9\", \"raw\\\\n\")");
}

TEST_CASE("EQL: to_string gives canonical EQL that parses back", "[eql]") {
    const std::pair<const char*, const char*> cases[] = {
        {"process.name == \"a\" or process.name == \"b\"", "process.name in (\"a\", \"b\")"},
        {"process.name : (\"A\", \"b*\")", "process.name in~ (\"a\") or process.name like~ \"b*\""},
        {"not (process.name == \"a\" and user.id != null)",
         "not (process.name == \"a\" and user.id != null)"},
        {"user.id == null", "not user.id != null"},
        {"length(process.name) >= 3", "length(process.name) >= 3"},
        {"process.name regex~ \"a\\\\.b\"", "process.name regex~ \"\"\"a\\.b\"\"\""},
        {"cidrmatch(source.ip, \"10.0.0.0/8\")", "cidrMatch(source.ip, \"10.0.0.0/8\")"},
        {"startsWith(process.name, \"a*\")", "startsWith(process.name, \"a*\")"},
        {"startsWith(process.name, \"ab\")", "process.name like \"ab*\""},
        {"?user.id == process.name", "?user.id == process.name"},
        {"process.args_count in (1, 2)", "process.args_count == 1 or process.args_count == 2"},
    };
    for (const auto& [input, canonical] : cases) {
        INFO(input);
        const auto q = must_parse(std::string("process where ") + input);
        CHECK(q.query.to_string() == canonical);
        CHECK(must_parse(std::string("process where ") + canonical).query.to_string() == canonical);
    }
}

TEST_CASE("EQL: parse errors name what was expected and where", "[eql]") {
    struct Case {
        const char* query;
        const char* message;
        int line;
        int column;
    };
    const Case cases[] = {
        {"", "empty query", 1, 1},
        {"join [process where true]", "join queries are not supported", 1, 1},
        {"process where process.name == \"a\" | head 1", "pipes (\"|\") are not supported", 1, 35},
        {"process process.name == \"a\"", "expected \"where\" after the event category", 1, 9},
        {"process.name == \"a\"", "expected an event category", 1, 1},
        {"process where", "expected a condition after \"where\"", 1, 14},
        {"process where\n  no.such.field == \"a\"", "unknown field \"no.such.field\"", 2, 3},
        {"process where process.name = \"a\"", "\"=\" is not an operator", 1, 28},
        {"process where process.name == 'a'", "single-quoted strings are not supported", 1, 31},
        {"process where process.name == \"a\\qb\"", "invalid escape \"\\q\"", 1, 33},
        {"process where process.name == \"\\u{zz}\"", "invalid unicode escape", 1, 32},
        {"process where process.name == \"abc", "unterminated string", 1, 31},
        {"process where process.name == \"\"\"abc\"", "unterminated string", 1, 31},
        {"process where /* no end", "unterminated comment", 1, 15},
        {"process where process.name", "expected an operator", 1, 27},
        {"process where process.name in \"a\"", "expected \"(\" after \"in\"", 1, 31},
        {"process where process.name in (\"a\" \"b\")", "expected \",\" or \")\"", 1, 36},
        {"process where process.name in (\"a\",", "this \"(\" is never closed", 1, 31},
        {"process where process.name like 1", "expected a string after", 1, 33},
        {"process where process.name regex \"(\"", "invalid regular expression", 1, 34},
        {"process where \"a\" == process.name", "expected a field or function on the left", 1,
         15},
        {"process where process.name == \"a\")", "\")\" has no matching \"(\"", 1, 34},
        {"process where (process.name == \"a\"", "this \"(\" is never closed", 1, 15},
        {"process where process.name == \"a\" process.name", "expected \"and\", \"or\"", 1, 35},
        {"process where concat(process.name, \"x\") == \"ax\"", "function \"concat\" is not "
         "supported", 1, 15},
        {"process where cidrMatch(source.ip, \"10.0.0.0/33\")", "invalid CIDR block", 1, 36},
        {"process where cidrMatch~(source.ip, \"10.0.0.0/8\")", "no case-insensitive form", 1,
         15},
        {"process where startsWith(process.name)", "startsWith takes 2 arguments, found 1", 1, 15},
        {"process where startsWith(\"a\", process.name)", "must be a field", 1, 26},
        {"process where wildcard(process.name, process.args)", "argument 2 of wildcard must be a "
         "string", 1, 38},
        {"process where length(process.name) : 3", "expected a comparison", 1, 36},
        {"process where startsWith(process.name, \"a\") == \"x\"", "compares only with true", 1,
         48},
        {"process where startsWith(length(process.name), \"a\")", "cannot be nested", 1, 26},
        {"process where process.name > null", "expected a number or string", 1, 30},
        {"process where process.name == 1e999", "out of range", 1, 31},
        {"process where process.name == \"x\" and\n  `a b` == \"c\"", "quoted field names", 2, 3},
        // columns count characters, not bytes
        {"process where process.name == \"\xc3\xa9\xc3\xa9\" x", "expected \"and\"", 1, 36},
    };
    for (const Case& c : cases) {
        INFO("query: " << c.query);
        const auto error = must_fail(c.query);
        CHECK_THAT(error.message, Catch::Contains(c.message));
        CHECK(error.line == c.line);
        CHECK(error.column == c.column);
    }
}

TEST_CASE("EQL: nesting depth, query length and regex size are limited", "[eql]") {
    const int max = scanwatch::rules::query::kMaxDepth;
    const auto nested = [](int n, const char* open, const char* close) {
        std::string text = "process where ";
        for (int i = 0; i < n; ++i) text += open;
        text += "process.name == \"a\"";
        for (int i = 0; i < n; ++i) text += close;
        return text;
    };
    must_parse(nested(max, "(", ")"));
    must_parse(nested(max, "not ", ""));
    CHECK_THAT(must_fail(nested(max + 1, "(", ")")).message, Catch::Contains("nesting too deep"));
    CHECK_THAT(must_fail(nested(100000, "not ", "")).message, Catch::Contains("too long"));
    CHECK_THAT(must_fail(nested(10000, "not ", "")).message, Catch::Contains("nesting too deep"));
    // A long flat query is fine: and/or chains are loops, not recursion.
    std::string flat = "process where process.name == \"a\"";
    while (flat.size() < 60000) flat += " or process.name == \"a\"";
    must_parse(flat);
    CHECK_THAT(must_fail("process where process.name regex \"" + std::string(5000, 'a') + "\"")
                   .message,
               Catch::Contains("regular expression too long"));
    std::string many = "process where process.name regex (\"a\"";
    for (std::size_t i = 1; i <= scanwatch::rules::query::kMaxRegexesPerQuery; ++i) many += ", \"a\"";
    CHECK_THAT(must_fail(many + ")").message, Catch::Contains("too many regular expressions"));
    // A regex whose automaton would be huge is refused, not built.
    CHECK_THAT(must_fail("process where process.name regex \"((((a{100}){100}){100}){100})\"")
                   .message,
               Catch::Contains("invalid regular expression"));
}

TEST_CASE("EQL: regex on a long value does not recurse", "[eql]") {
    const auto q = must_parse("process where process.args regex \"(a|b)*c\"");
    CHECK_FALSE(q.query.matches(MapAccessor(Event{{"process.args", {std::string(1 << 20, 'a')}}})));
    CHECK(q.query.matches(MapAccessor(Event{{"process.args", {std::string(1 << 20, 'a') + "c"}}})));
}

TEST_CASE("EQL: field_ids lists the fields read; unknown ?fields are not", "[eql]") {
    const auto q = must_parse(
        "process where startsWith(process.command_line, process.name) and ?nope.x == null and "
        "process.name : \"a\" and length(user.id) > 1");
    const std::vector<int> want = {resolve("process.command_line"), resolve("process.name"),
                                   resolve("user.id")};
    CHECK(q.query.field_ids() == want);
}

TEST_CASE("EQL: static checks are three-valued over known fields", "[eql]") {
    // Only process.name is known, and it is "bash"; other fields may hold anything.
    const Event known_values = {{"process.name", {"bash"}}};
    const MapAccessor known(known_values);
    const std::function<bool(int)> is_known = [](int id) { return id == resolve("process.name"); };
    const auto may = [&](const char* condition) {
        return must_parse(std::string("process where ") + condition).query.may_match(known, is_known);
    };
    const auto must = [&](const char* condition) {
        return must_parse(std::string("process where ") + condition)
            .query.must_match(known, is_known);
    };
    CHECK_FALSE(may("process.name : \"z*\""));
    CHECK(must("process.name regex~ \"B.SH\""));
    CHECK_FALSE(may("length(process.name) > 4"));
    CHECK(may("length(user.id) > 4"));
    CHECK_FALSE(must("length(user.id) > 4"));
    CHECK(must("?unknown.field == null"));
    CHECK_FALSE(may("startsWith(process.name, \"z\") and cidrMatch(source.ip, \"10.0.0.0/8\")"));
    CHECK(may("startsWith(process.command_line, process.name)"));
    CHECK_FALSE(must("startsWith(process.command_line, process.name)"));
}

TEST_CASE("EQL: required_values ignores case-insensitive matches", "[eql]") {
    const int name = resolve("process.name");
    CHECK(must_parse("process where process.name in (\"a\", \"b\") and user.id != null")
              .query.required_values(name) == std::vector<std::string>{"a", "b"});
    CHECK(must_parse("process where process.name in~ (\"a\", \"b\")").query.required_values(name)
              .empty());
}
