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

TEST_CASE("KQL: Elastic seed query matches a ping exec event", "[kql]") {
    const Query query = must_parse(kSeedQuery);
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
    const Query query = must_parse(kSeedQuery);
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
    SECTION("question mark is a literal character: KQL's only wildcard is the star") {
        CHECK_FALSE(matches("process.name:hping?", name("hping3")));
        CHECK(matches("process.name:hping?", name("hping?")));
        CHECK_FALSE(matches("process.name:?ping", name("nping")));
        CHECK(matches("process.name:?ping", name("?ping")));
        CHECK(matches("process.name:h?ing*", name("h?ing3")));
        CHECK_FALSE(matches("process.name:h?ing*", name("hping3")));
        CHECK(matches("process.name:*?", name("what?")));
        CHECK_FALSE(matches("process.name:*?", name("x")));
        CHECK_FALSE(matches("process.name:??", name("\xc3\xa9")));
        CHECK(matches("process.name:\\?", name("?")));  // an escaped one too
    }
    SECTION("no partial matches") {
        CHECK_FALSE(matches("process.name:pin", name("ping")));
        CHECK_FALSE(matches("process.name:in*", name("ping")));
        CHECK_FALSE(matches("process.name:*in", name("ping")));
    }
}

TEST_CASE("KQL: wildcard matching does not backtrack exponentially", "[kql]") {
    const std::string value(20000, 'a');
    const Query query = must_parse("process.name:*a*a*a*a*a*a*a*a*a*a*a*a*b");
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
    CHECK(matches("process.args_count < \"10\"", four));  // quoted numbers are numbers too
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

// Kibana's grammar (kbn-es-query grammar.peggy, UnquotedLiteral) and detection-rules' lib/kql
// keep whitespace inside an unquoted value; two of Elastic's shipped rules rely on it.
TEST_CASE("KQL: whitespace inside an unquoted value is part of it, as in Kibana", "[kql][kql-space]") {
    const auto args = [](std::vector<std::string> values) {
        return Event{{"process.args", std::move(values)}};
    };
    SECTION("a wildcard value with a space is one value") {
        // command_and_control_auditd_curl_wget_from_container.toml
        const std::string q = "process.args:(* curl* or */bin/curl* or *wget*)";
        CHECK(must_parse(q).to_string() ==
              R"(process.args:*\ curl* or process.args:*/bin/curl* or process.args:*wget*)");
        CHECK(matches(q, args({"sh", "-c", "echo x; curl http://x"})));
        CHECK_FALSE(matches(q, args({"curl", "http://x"})));  // no space before curl
        CHECK(matches(q, args({"/usr/bin/curl"})));
        CHECK(matches("process.args:(* 1*)", args({"sleep 10"})));
        CHECK_FALSE(matches("process.args:(* 1*)", args({"x1"})));
    }
    SECTION("a literal value with a space is one value") {
        CHECK(must_parse("process.name:hping 3").to_string() == R"(process.name:"hping 3")");
        CHECK(must_parse("process.name:(a b or c)").to_string() ==
              R"(process.name:"a b" or process.name:c)");
        CHECK(matches("process.name:  runc  init  ", Event{{"process.name", {"runc  init"}}}));
    }
    SECTION("a value stops before a keyword, a parenthesis, a quote or the end") {
        CHECK(must_parse("process.name:a b and user.name:c").to_string() ==
              R"(process.name:"a b" and user.name:c)");
        CHECK(must_parse("process.name:(a b OR c d)").to_string() ==
              R"(process.name:"a b" or process.name:"c d")");
        CHECK(must_parse("process.name:(a b) or not user.name:x y").to_string() ==
              R"(process.name:"a b" or not user.name:"x y")");
        CHECK(must_parse("not process.name:x").to_string() == "not process.name:x");
        CHECK(must_parse("process.name : x").to_string() == "process.name:x");
        CHECK(must_parse("process.args_count >= 5").to_string() == "process.args_count >= 5");
    }
    SECTION("a missing operator before a field is still an error naming the field") {
        const QueryError e = must_fail("user.name:a b user.name:c");
        CHECK_THAT(e.message, Catch::Contains("found \"user.name\""));
        CHECK(e.column == 15);
    }
    SECTION("a value across lines keeps the line break, as Kibana reads it") {
        // credential_access_kubernetes_and_cloud_credential_paths_via_process_args.toml lacks an
        // `or` between two values: Kibana reads one value holding the line break.
        const std::string q = "process.args:(*/conf/server.xml\n  */.kube/config or */.docker/config.json)";
        CHECK_FALSE(matches(q, args({"/root/.kube/config"})));
        CHECK(matches(q, args({"/x/conf/server.xml\n  /root/.kube/config"})));
        CHECK(matches(q, args({"/root/.docker/config.json"})));
    }
}
