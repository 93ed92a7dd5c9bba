#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/kql.h"

namespace {

using scanwatch::rules::FieldAccessor;
using scanwatch::rules::KqlError;
using scanwatch::rules::KqlQuery;

using Event = std::map<std::string, std::vector<std::string>>;

const std::vector<std::string>& field_table() {
    static const std::vector<std::string> fields = {
        "event.category", "host.os.type", "event.action", "event.type",    "process.name",
        "process.args",   "user.name",    "@timestamp",   "process.title", "file-path_x",
        "process.args_count",
    };
    return fields;
}

int resolve(std::string_view name) {
    const auto& fields = field_table();
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i] == name) return static_cast<int>(i);
    }
    return -1;
}

int id_of(std::string_view name) {
    const int id = resolve(name);
    REQUIRE(id >= 0);
    return id;
}

class MapAccessor final : public FieldAccessor {
public:
    explicit MapAccessor(const Event& event) : event_(event) {}

    bool any_value(int field_id,
                   const std::function<bool(std::string_view)>& visit) const override {
        const auto& fields = field_table();
        if (field_id < 0 || static_cast<std::size_t>(field_id) >= fields.size()) return false;
        const auto it = event_.find(fields[static_cast<std::size_t>(field_id)]);
        if (it == event_.end()) return false;
        for (const std::string& value : it->second) {
            if (visit(value)) return true;
        }
        return false;
    }

private:
    const Event& event_;
};

KqlQuery must_parse(std::string_view text) {
    auto result = KqlQuery::parse(text, resolve);
    if (const auto* error = std::get_if<KqlError>(&result)) {
        FAIL("parse of `" << text << "` failed at " << error->line << ":" << error->column << ": "
                          << error->message);
    }
    return std::get<KqlQuery>(std::move(result));
}

KqlError must_fail(std::string_view text) {
    auto result = KqlQuery::parse(text, resolve);
    if (const auto* query = std::get_if<KqlQuery>(&result)) {
        FAIL("`" << text << "` parsed as `" << query->to_string() << "`");
    }
    return std::get<KqlError>(std::move(result));
}

bool matches(std::string_view query, const Event& event) {
    return must_parse(query).matches(MapAccessor(event));
}

// A copy of `event` with `field` set to `values`.
Event with(Event event, const std::string& field, std::vector<std::string> values) {
    event[field] = std::move(values);
    return event;
}

constexpr std::string_view kSeedQuery =
    "event.category:process and host.os.type:linux and event.action:(exec or exec_event or "
    "executed or process_started) and\n"
    "event.type:start and process.name:(ping or nping or hping or hping2 or hping3 or nc or ncat "
    "or netcat or socat)\n";

const Event& ping_event() {
    static const Event event = {
        {"event.category", {"process"}}, {"host.os.type", {"linux"}},
        {"event.action", {"executed"}},  {"event.type", {"start"}},
        {"process.name", {"ping"}},      {"process.args", {"ping", "-c", "1", "10.0.0.7"}},
        {"user.name", {"alice"}},
    };
    return event;
}

}  // namespace

TEST_CASE("KQL: Elastic seed query matches a ping exec event", "[kql]") {
    const KqlQuery query = must_parse(kSeedQuery);
    CHECK(query.matches(MapAccessor(ping_event())));
    for (const char* name : {"nping", "hping3", "nc", "ncat", "netcat", "socat"}) {
        INFO(name);
        CHECK(query.matches(MapAccessor(with(ping_event(), "process.name", {name}))));
    }
    for (const char* action : {"exec", "exec_event", "process_started"}) {
        INFO(action);
        CHECK(query.matches(MapAccessor(with(ping_event(), "event.action", {action}))));
    }
}

TEST_CASE("KQL: seed query rejects exit events and other programs", "[kql]") {
    const KqlQuery query = must_parse(kSeedQuery);
    CHECK_FALSE(query.matches(MapAccessor(with(ping_event(), "event.action", {"exit"}))));
    CHECK_FALSE(query.matches(MapAccessor(with(ping_event(), "process.name", {"curl"}))));
    CHECK_FALSE(query.matches(MapAccessor(with(ping_event(), "host.os.type", {"windows"}))));
    CHECK_FALSE(query.matches(MapAccessor(with(ping_event(), "event.type", {"end"}))));
    Event missing = ping_event();
    missing.erase("event.category");
    CHECK_FALSE(query.matches(MapAccessor(missing)));
    // No partial matches: a value list entry is a whole value.
    CHECK_FALSE(query.matches(MapAccessor(with(ping_event(), "process.name", {"pin"}))));
    CHECK_FALSE(query.matches(MapAccessor(with(ping_event(), "process.name", {"ping6"}))));
}

TEST_CASE("KQL: multi-line queries", "[kql]") {
    const Event& event = ping_event();
    CHECK(matches(
        "\n  event.category : process\n\tand\n\n  process.name:(\n    ping\n    or nc\n  )\n",
        event));
    CHECK(matches("event.category:process\r\nand process.name:ping\r\n", event));
    CHECK_FALSE(matches("event.category:process\nand\nprocess.name:curl", event));
}

TEST_CASE("KQL: keywords are case-insensitive", "[kql]") {
    const Event& event = ping_event();
    CHECK(matches("event.category:process AND process.name:ping", event));
    CHECK(matches("process.name:curl Or process.name:ping", event));
    CHECK(matches("NOT process.name:curl aNd nOt user.name:bob", event));
    CHECK(matches("process.name:(curl OR ping)", event));
    CHECK_FALSE(matches("Not process.name:ping", event));
}

TEST_CASE("KQL: values are case-sensitive", "[kql]") {
    const Event& event = ping_event();
    CHECK_FALSE(matches("process.name:PING", event));
    CHECK_FALSE(matches("process.name:Ping", event));
    CHECK_FALSE(matches("process.name:\"PING\"", event));
    CHECK_FALSE(matches("process.name:PI*", event));
    CHECK(matches("process.name:pi*", event));
}

TEST_CASE("KQL: quoted values with spaces and escapes", "[kql]") {
    const Event event = {
        {"process.title", {"ping -c 1 10.0.0.7"}},
        {"user.name", {"say \"hi\" \\o/"}},
        {"process.args", {"a*b", "c?d", "x:y", "tab\there", "C:\\new", "C:\\dir"}},
    };
    CHECK(matches("process.title:\"ping -c 1 10.0.0.7\"", event));
    CHECK_FALSE(matches("process.title:\"ping -c 1\"", event));
    CHECK(matches(R"(user.name:"say \"hi\" \\o/")", event));
    // Quoted values are literal: * and ? are ordinary characters there.
    CHECK(matches(R"(process.args:"a*b")", event));
    CHECK(matches(R"(process.args:"c?d")", event));
    CHECK_FALSE(matches(R"(process.args:"a*")", event));
    CHECK_FALSE(matches(R"(process.args:"c?e")", event));
    CHECK(matches(R"(process.args:"x:y")", event));
    CHECK(matches(R"(process.args:"tab\there")", event));
    // As in Kibana, a backslash before anything else stays a backslash.
    CHECK(matches(R"(process.args:"C:\dir")", event));
    CHECK_FALSE(matches(R"(process.args:"C:\new")", event));  // but \n is a newline
    CHECK(matches(R"(process.args:"C:\\new")", event));
    CHECK(matches("user.name:\"\"", Event{{"user.name", {""}}}));
    CHECK_FALSE(matches("user.name:\"\"", Event{{"user.name", {"x"}}}));
    CHECK(matches("user.name:\"line1\nline2\"", Event{{"user.name", {"line1\nline2"}}}));
    CHECK(matches(R"(user.name:"\u00e9t\u00E9 \ud83d\ude00")",
                  Event{{"user.name", {"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"}}}));
    // Quoted keywords are values.
    CHECK(matches("user.name:\"or\"", Event{{"user.name", {"or"}}}));
}

TEST_CASE("KQL: field:* requires the field to have a value", "[kql]") {
    CHECK(matches("user.name:*", ping_event()));
    CHECK(matches("user.name:*", Event{{"user.name", {""}}}));
    CHECK_FALSE(matches("user.name:*", Event{{"user.name", {}}}));
    CHECK_FALSE(matches("process.title:*", ping_event()));
    CHECK(matches("not process.title:*", ping_event()));
    CHECK(matches("user.name:**", ping_event()));
    // Quoted, a star is only a star.
    CHECK_FALSE(matches("user.name:\"*\"", ping_event()));
    CHECK(matches("user.name:\"*\"", Event{{"user.name", {"*"}}}));
}

TEST_CASE("KQL: wildcard matches prefix", "[kql]") {
    const auto name = [](const char* value) { return Event{{"process.name", {value}}}; };
    CHECK(matches("process.name:hping*", name("hping")));
    CHECK(matches("process.name:hping*", name("hping3")));
    CHECK_FALSE(matches("process.name:hping*", name("hpin")));
    CHECK_FALSE(matches("process.name:hping*", name("xhping3")));
}

TEST_CASE("KQL: wildcard star and question mark anywhere", "[kql]") {
    const auto name = [](const char* value) { return Event{{"process.name", {value}}}; };
    SECTION("leading star") {
        CHECK(matches("process.name:*ping", name("nping")));
        CHECK(matches("process.name:*ping", name("ping")));
        CHECK_FALSE(matches("process.name:*ping", name("ping6")));
    }
    SECTION("middle star") {
        CHECK(matches("process.name:h*3", name("hping3")));
        CHECK(matches("process.name:h*3", name("h3")));
        CHECK_FALSE(matches("process.name:h*3", name("hping2")));
        CHECK(matches("process.name:n*c*t", name("netcat")));
        CHECK(matches("process.name:a*b*a", name("abba")));
        CHECK_FALSE(matches("process.name:a*b*a", name("abab")));
    }
    SECTION("both ends") {
        CHECK(matches("process.name:*ing*", name("hping3")));
        CHECK(matches("process.name:*ing*", name("ing")));
        CHECK_FALSE(matches("process.name:*ing*", name("in")));
    }
    SECTION("star alone matches any value") {
        CHECK(matches("process.name:*", name("")));
        CHECK(matches("process.name:*", name("anything")));
    }
    SECTION("question mark is exactly one byte") {
        CHECK(matches("process.name:hping?", name("hping3")));
        CHECK_FALSE(matches("process.name:hping?", name("hping")));
        CHECK_FALSE(matches("process.name:hping?", name("hping33")));
        CHECK(matches("process.name:?ping", name("nping")));
        CHECK(matches("process.name:h?ing*", name("hping3")));
        CHECK(matches("process.name:*?", name("x")));
        CHECK_FALSE(matches("process.name:*?", name("")));
        CHECK(matches("process.name:??", name("\xc3\xa9")));  // one character, two bytes
        CHECK_FALSE(matches("process.name:?", name("\xc3\xa9")));
    }
    SECTION("no partial matches") {
        CHECK_FALSE(matches("process.name:pin", name("ping")));
        CHECK_FALSE(matches("process.name:in*", name("ping")));
        CHECK_FALSE(matches("process.name:*in", name("ping")));
    }
}

TEST_CASE("KQL: wildcard matching does not backtrack exponentially", "[kql]") {
    const std::string value(20000, 'a');
    const KqlQuery query = must_parse("process.name:*a*a*a*a*a*a*a*a*a*a*a*a*b");
    const Event event = {{"process.name", {value}}};
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(query.matches(MapAccessor(event)));
    CHECK(must_parse("process.name:*a*a*a*a*a*a*a*a*a*a*a*a*a").matches(MapAccessor(event)));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed < std::chrono::seconds(2));
}

TEST_CASE("KQL: array fields match on any element", "[kql]") {
    const Event event = ping_event();  // process.args: ping -c 1 10.0.0.7
    CHECK(matches("process.args:-c", event));
    CHECK(matches("process.args:10.0.0.*", event));
    CHECK(matches("process.args:(nothing or 1)", event));
    CHECK_FALSE(matches("process.args:-w", event));
    CHECK(matches("not process.args:-w", event));
    CHECK_FALSE(matches("not process.args:-c", event));
    // `and` in a value list may be satisfied by different elements.
    CHECK(matches("process.args:(-c and 1)", event));
    CHECK(matches("process.args:-c and process.args:ping", event));
}

TEST_CASE("KQL: not binds tighter than and, and tighter than or", "[kql]") {
    const Event event = {{"user.name", {"a"}}, {"process.name", {"b"}}};
    // a or (b and c)
    CHECK(matches("user.name:a or process.name:x and event.type:y", event));
    // (a or b) would be true; the and binds first
    CHECK_FALSE(matches("user.name:x or process.name:b and event.type:y", event));
    CHECK(matches("(user.name:x or process.name:b) and not event.type:y", event));
    // (not a) and b
    CHECK_FALSE(matches("not user.name:a and process.name:b", event));
    CHECK(matches("not user.name:x and process.name:b", event));
    // (not a) or b
    CHECK(matches("not user.name:a or process.name:b", event));
    CHECK(matches("not (user.name:a and process.name:x)", event));
    CHECK(matches("not not user.name:a", event));
    CHECK_FALSE(matches("not not not user.name:a", event));
}

TEST_CASE("KQL: nested parentheses", "[kql]") {
    const Event event = {{"user.name", {"a"}}, {"process.name", {"b"}}, {"event.type", {"c"}}};
    CHECK(matches("((user.name:a))", event));
    CHECK(matches("(user.name:x or (process.name:b and (event.type:c or event.type:z)))", event));
    CHECK_FALSE(
        matches("(user.name:x or (process.name:b and (event.type:d or event.type:z)))", event));
    CHECK(matches("not (user.name:x or (process.name:x and event.type:c))", event));
    CHECK(matches("(user.name:a)and(process.name:b)", event));
    CHECK(matches("not(user.name:x)", event));
}

TEST_CASE("KQL: value lists with and, not and parentheses", "[kql]") {
    const Event event = {{"process.args", {"-c", "5", "host"}}, {"process.name", {"ping"}}};
    CHECK(matches("process.args:(-c and 5)", event));
    CHECK_FALSE(matches("process.args:(-c and 6)", event));
    CHECK(matches("process.args:(-x or (-c and host))", event));
    CHECK(matches("process.args:(-c and not -w)", event));
    CHECK_FALSE(matches("process.args:(-c and not 5)", event));
    CHECK(matches("process.name:(not curl)", event));
    CHECK_FALSE(matches("process.name:(not ping)", event));
    CHECK(matches("process.name:(p* and not pong)", event));
    CHECK(matches("process.name:((((ping))))", event));
    CHECK(matches("process.name:(\"ping\" or \"a b\")", event));
    // not > and > or inside a list too: (-x and -c) or 5
    CHECK(matches("process.args:(-x and -c or 5)", event));
    CHECK_FALSE(matches("process.args:(-x and (-c or 5))", event));
}

TEST_CASE("KQL: backslash escapes in unquoted values", "[kql]") {
    const auto args = [](std::vector<std::string> values) {
        return Event{{"process.args", std::move(values)}};
    };
    CHECK(matches(R"(process.args:a\:b)", args({"a:b"})));
    CHECK(matches(R"(process.args:\*)", args({"*"})));
    CHECK_FALSE(matches(R"(process.args:\*)", args({"x"})));
    CHECK(matches(R"(process.args:a\*b*)", args({"a*bc"})));
    CHECK_FALSE(matches(R"(process.args:a\*b*)", args({"axbc"})));
    CHECK(matches(R"(process.args:what\?)", args({"what?"})));
    CHECK_FALSE(matches(R"(process.args:what\?)", args({"whatX"})));
    CHECK(matches(R"(process.args:\(x\))", args({"(x)"})));
    CHECK(matches(R"(process.args:C\\dir)", args({"C\\dir"})));
    CHECK(matches(R"(process.args:a\ b)", args({"a b"})));
    CHECK(matches(R"(process.args:\"q\")", args({"\"q\""})));
    CHECK(matches(R"(process.args:\{\}\<\>)", args({"{}<>"})));
    CHECK(matches(R"(process.args:a\tb)", args({"a\tb"})));
    CHECK(matches(R"(process.args:\u0041)", args({"A"})));
    // An escaped keyword is a value.
    CHECK(matches(R"(process.args:\or)", args({"or"})));
    CHECK(matches(R"(process.args:\AND)", args({"AND"})));
    // Characters outside the special set need no escape.
    CHECK(matches("process.args:--port=80,443", args({"--port=80,443"})));
    CHECK(matches("process.args:/usr/bin/nc.openbsd", args({"/usr/bin/nc.openbsd"})));
    CHECK(matches("process.args:\xc3\xa9t\xc3\xa9", args({"\xc3\xa9t\xc3\xa9"})));
}

TEST_CASE("KQL: range comparisons", "[kql]") {
    const Event four = {{"process.args_count", {"4"}}, {"user.name", {"bob"}}};
    CHECK(matches("process.args_count >= 4", four));
    CHECK(matches("process.args_count > 3", four));
    CHECK(matches("process.args_count <= 4", four));
    CHECK(matches("process.args_count < 10", four));  // numeric, not "10" < "4" as bytes
    CHECK_FALSE(matches("process.args_count > 4", four));
    CHECK_FALSE(matches("process.args_count < 4", four));
    CHECK(matches("process.args_count>=3.5 and not process.args_count>4.5", four));
    // A value that is not a number never satisfies a numeric range; a missing field neither.
    CHECK_FALSE(matches("process.args_count >= 1", {{"process.args_count", {"many"}}}));
    CHECK_FALSE(matches("process.args_count >= 1", {}));
    // Against a word, values compare as bytes.
    CHECK(matches("user.name > alice", four));
    CHECK_FALSE(matches("user.name > \"c\"", four));
    // Any value of a multi-valued field.
    CHECK(matches("process.args_count > 5", {{"process.args_count", {"1", "9"}}}));
    CHECK(must_parse("process.args_count>=5 and user.name < \"b c\"").to_string() ==
          "process.args_count >= 5 and user.name < \"b c\"");
}

TEST_CASE("KQL: escaped whitespace in unquoted values", "[kql]") {
    const Event spaced = {{"process.args", {"Document Revisions", "a\tb"}}};
    CHECK(matches("process.args:Document\\ Revisions", spaced));
    CHECK(matches("process.args:*\\ Revisions", spaced));
    CHECK(matches("process.args:a\\\tb", spaced));  // a backslash before a tab
    CHECK(matches("process.args:a\\tb", spaced));     // the \t escape
    CHECK_FALSE(matches("process.args:Document\\ revisions", spaced));
    CHECK(must_parse("process.args:*\\ Revisions").to_string() == "process.args:*\\ Revisions");
}

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
        {"process.name:hping 3", "expected \"and\", \"or\" or end of query, found \"3\"", 1, 20},
        {"user.name:a:b", "expected \"and\", \"or\" or end of query, found \":\"", 1, 12},
        {"(user.name:a user.name:b)", "expected \"and\", \"or\" or \")\", found \"user.name\"", 1,
         14},
        {"process.name:(a b)",
         "expected \"and\", \"or\" or \")\" in the value list of \"process.name\", found \"b\"", 1,
         17},
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
        const KqlError error = must_fail(c.query);
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
        const KqlError error = must_fail(deep);
        CHECK_THAT(error.message, Catch::Contains("nesting too deep"));
        CHECK(error.line == 1);
        CHECK(error.column == 65);
    }
    SECTION("not chains count as nesting") {
        std::string deep;
        for (int i = 0; i < 1000; ++i) deep += "not ";
        deep += "user.name:a";
        const KqlError error = must_fail(deep);
        CHECK_THAT(error.message, Catch::Contains("nesting too deep"));
        CHECK(error.column == 64 * 4 + 1);
    }
    SECTION("value lists count too") {
        const std::string deep =
            "user.name:" + std::string(100000 / 2, '(') + "a" + std::string(100000 / 2, ')');
        CHECK_THAT(must_fail(deep).message, Catch::Contains("too long"));
        const std::string nested = "user.name:" + std::string(70, '(') + "a" + std::string(70, ')');
        const KqlError error = must_fail(nested);
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
    const KqlQuery seed = must_parse(kSeedQuery);
    CHECK(seed.field_ids() == std::vector<int>{id_of("event.category"), id_of("host.os.type"),
                                               id_of("event.action"), id_of("event.type"),
                                               id_of("process.name")});
    const KqlQuery query = must_parse(
        "user.name:a or (process.name:b and not user.name:c) or @timestamp:* or file-path_x:y");
    CHECK(query.field_ids() == std::vector<int>{id_of("user.name"), id_of("process.name"),
                                                id_of("@timestamp"), id_of("file-path_x")});
    CHECK(KqlQuery().field_ids().empty());
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
          R"(user.name:a\*b* or user.name:\?x?)");
    CHECK(must_parse("user.name:a**b").to_string() == "user.name:a*b");
    CHECK(KqlQuery().to_string().empty());
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
        const KqlQuery query = must_parse(text);
        const std::string canonical = query.to_string();
        INFO("query: " << text << "\ncanonical: " << canonical);
        const KqlQuery again = must_parse(canonical);
        CHECK(again.to_string() == canonical);
        CHECK(again.field_ids() == query.field_ids());
        for (const Event& event : events) {
            CHECK(again.matches(MapAccessor(event)) == query.matches(MapAccessor(event)));
        }
    }
}

TEST_CASE("KQL: required_values for the seed query", "[kql]") {
    const KqlQuery seed = must_parse(kSeedQuery);
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
    CHECK(KqlQuery().required_values(name).empty());
}

TEST_CASE("KQL: a default-constructed query matches nothing", "[kql]") {
    const KqlQuery query;
    CHECK_FALSE(query.matches(MapAccessor(ping_event())));
}

TEST_CASE("KQL: a query is shareable and independent of its text", "[kql]") {
    std::string text = "process.name:ping";
    const KqlQuery query = must_parse(text);
    text.assign(text.size(), 'x');
    const KqlQuery copy = query;
    CHECK(copy.matches(MapAccessor(ping_event())));
    CHECK(copy.to_string() == "process.name:ping");
}

TEST_CASE("KQL: a resolver failure is an error, not an exception", "[kql]") {
    const auto throwing = [](std::string_view) -> int { throw std::runtime_error("boom"); };
    auto result = KqlQuery::parse("user.name:a", throwing);
    REQUIRE(std::holds_alternative<KqlError>(result));
    CHECK_THAT(std::get<KqlError>(result).message, Catch::Contains("boom"));
    auto no_resolver = KqlQuery::parse("user.name:a", scanwatch::rules::FieldResolver());
    REQUIRE(std::holds_alternative<KqlError>(no_resolver));
}

TEST_CASE("KQL: the deepest query accepted prints, re-parses, matches and checks", "[kql]") {
    // Each "not (" is two levels; alternating or/and keeps every level a node of the tree.
    std::string text = "user.name:a";
    for (int i = 0; i < 32; ++i) {  // 64 levels: the limit
        text = std::string(i % 2 == 0 ? "not (user.name:b or " : "not (user.name:b and ") + text + ")";
    }
    const KqlQuery query = must_parse(text);
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
