#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/exceptions.h"
#include "rules/engines/threshold_engine.h"
#include "tests/rules/test_files.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;
using scanwatch::test::TempDir;

namespace {

constexpr std::int64_t kT0 = 1'700'000'100'000;

std::shared_ptr<const RuleDefinition> must_load(const std::string& text, const std::string& source = "r.toml") {
    auto r = load_rule(text, source);
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

RuleError must_fail(const std::string& text) {
    auto r = load_rule(text, "bad.toml");
    REQUIRE(std::holds_alternative<RuleError>(r));
    return std::get<RuleError>(r);
}


// The built-in rule with `extra` appended to its TOML.
std::string builtin_plus(const std::string& extra) { return std::string(builtin_rule_text()) + extra; }

// The shared ping under parent P1 run from `parent_exe`, by root named, no serial or entity id.
ProcessEvent ping(std::int64_t time_ms, const std::string& target, const std::string& parent_exe = "/usr/bin/bash") {
    ProcessEvent e = scanwatch::test::ping(time_ms, target, "P1", 0);
    e.entity_id.clear();
    e.parent_executable = parent_exe;
    e.user.name = "root";
    return e;
}

std::size_t sweep(RuleEngine& engine, const std::string& parent_exe) {
    std::vector<Alert> alerts;
    for (int i = 0; i < 120; ++i) engine.process(ping(kT0 + i, "10.0.0." + std::to_string(i), parent_exe), alerts);
    engine.finish(alerts);
    return alerts.size();
}

constexpr const char* kXargsException = R"(
[[rule.exceptions]]
description = "parallel health checks run from xargs"
query = 'process.parent.executable:"/usr/bin/xargs"'
)";

}  // namespace

TEST_CASE("Exceptions: [[rule.exceptions]] in a rule file stop matching events from counting", "[exceptions]") {
    const auto rule = must_load(builtin_plus(kXargsException));
    REQUIRE(rule->exceptions.size() == 1);
    const RuleException& e = rule->exceptions[0];
    CHECK(e.description == "parallel health checks run from xargs");
    CHECK(e.query.to_string() == "process.parent.executable:/usr/bin/xargs");
    CHECK(e.rule_id.empty());
    CHECK(e.unknown_fields.empty());
    CHECK(e.place().rfind("r.toml:", 0) == 0);
    for (Evaluation mode : {Evaluation::streaming, Evaluation::scheduled}) {
        INFO(evaluation_name(mode));
        EngineOptions options;
        options.evaluation = mode;
        auto excepted = make_engine(rule, options);
        CHECK(sweep(*excepted, "/usr/bin/xargs") == 0);
        CHECK(excepted->counters().matched == 120);
        CHECK(excepted->counters().excepted == 120);
        CHECK(excepted->counters().groups == 0);
        auto counted = make_engine(rule, options);
        CHECK(sweep(*counted, "/usr/bin/bash") == 1);
        CHECK(counted->counters().excepted == 0);
    }
}

TEST_CASE("Exceptions: errors in a rule file's exceptions name file, line and column", "[exceptions]") {
    SECTION("a KQL error points into the exception's query") {
        // The appended text starts after the built-in rule's last line.
        const int base = static_cast<int>(std::count(builtin_rule_text().begin(), builtin_rule_text().end(), '\n'));
        const auto e = must_fail(builtin_plus("\n[[rule.exceptions]]\nquery = '''\nuser.name:root and\n  (user.id:0'''\n"));
        CHECK(e.source == "bad.toml");
        CHECK(e.line == base + 5);  // the line holding "  (user.id:0"
        CHECK(e.column == 3);       // the "(" that is never closed
        CHECK(e.message.find("exception query: unbalanced parenthesis") == 0);
    }
    SECTION("single-line query: the column counts from the file's line start") {
        const int base = static_cast<int>(std::count(builtin_rule_text().begin(), builtin_rule_text().end(), '\n'));
        const auto e = must_fail(builtin_plus("\n[[rule.exceptions]]\nquery = \"user.name:\"\n"));
        CHECK(e.line == base + 3);
        CHECK(e.column == 20);  // end of query, just before the closing quote
    }
    SECTION("a typo in a key is an error, not a silently ignored exception") {
        const auto e = must_fail(builtin_plus("\n[[rule.exceptions]]\nquerry = \"user.name:root\"\n"));
        CHECK(e.message.find("unknown key \"querry\" in rule.exceptions") == 0);
        CHECK(e.line > 0);
    }
    SECTION("no query") {
        const auto e = must_fail(builtin_plus("\n[[rule.exceptions]]\ndescription = \"x\"\n"));
        CHECK(e.message == "rule.exceptions needs a query");
    }
    SECTION("rule_id belongs to exceptions files only") {
        const auto e = must_fail(builtin_plus("\n[[rule.exceptions]]\nrule_id = \"x\"\nquery = \"user.id:0\"\n"));
        CHECK(e.message.find("unknown key \"rule_id\"") == 0);
    }
}

TEST_CASE("Exceptions: an exceptions file applies by rule_id or to every rule", "[exceptions]") {
    const std::string text = R"(# Site exceptions
[[exception]]
description = "inventory job"
query = 'process.parent.executable:"/usr/local/bin/inventory"'

[[exception]]
rule_id = "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a"
query = '''
user.name:(nagios or zabbix)
'''

[[exception]]
rule_id = "no-such-rule"
query = "user.id:1234"
)";
    const ExceptionSet set = load_exceptions(text, "site.toml");
    REQUIRE(set.ok());
    REQUIRE(set.exceptions.size() == 3);
    CHECK(set.exceptions[0].rule_id.empty());
    CHECK(set.exceptions[0].description == "inventory job");
    CHECK(set.exceptions[0].place() == "site.toml:2");
    CHECK(set.exceptions[1].rule_id == "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a");
    CHECK(set.exceptions[1].query.to_string() == "user.name:nagios or user.name:zabbix");

    const auto seed = builtin();
    const auto other = must_load(R"([rule]
name = "other"
rule_id = "other-rule"
type = "threshold"
query = "process.name:nmap"
[rule.threshold]
value = 1
)");
    const auto attached = with_exceptions({seed, other}, set.exceptions);
    REQUIRE(attached.size() == 2);
    REQUIRE(attached[0]->exceptions.size() == 2);  // the one for every rule, and its own
    CHECK(attached[0]->exceptions[1].rule_id == seed->rule_id);
    REQUIRE(attached[1]->exceptions.size() == 1);
    CHECK(attached[1]->exceptions[0].description == "inventory job");
    CHECK(seed->exceptions.empty());  // the loaded rule is left as it was

    const auto warnings = exception_warnings({seed, other}, set.exceptions);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] == "site.toml:12: exception for rule_id \"no-such-rule\" applies to no loaded rule");

    // Counting: the user-name exception applies to the seed rule.
    ThresholdEngine engine(attached[0], {});
    std::vector<Alert> alerts;
    for (int i = 0; i < 120; ++i) {
        ProcessEvent e = ping(kT0 + i, "10.0.0." + std::to_string(i));
        e.user.name = "nagios";
        engine.process(e, alerts);
    }
    CHECK(alerts.empty());
    CHECK(engine.counters().excepted == 120);
}

TEST_CASE("Exceptions: errors in an exceptions file name file, line and column, all of them", "[exceptions]") {
    SECTION("TOML syntax") {
        const ExceptionSet set = load_exceptions("[[exception]]\nquery = \"x:1\nrule_id = 2\n", "ex.toml");
        REQUIRE(set.errors.size() == 1);
        CHECK(set.errors[0].source == "ex.toml");
        CHECK(set.errors[0].line == 2);
        CHECK(set.exceptions.empty());
    }
    SECTION("every bad table is reported; the good ones load") {
        const std::string text = R"([[exception]]
query = "user.name:root"

[[exception]]
query = '''
user.name:root and
  process.name:'''

[[exception]]
rule_id = ""
query = "user.id:0"

[[exception]]
description = "forgot the query"

[[exceptions]]
query = "user.id:0"
)";
        const ExceptionSet set = load_exceptions(text, "ex.toml");
        CHECK(set.exceptions.size() == 1);
        REQUIRE(set.errors.size() == 4);
        CHECK(set.errors[0].to_string() ==
              "ex.toml:7:16: exception query: expected a value after \"process.name:\", found end of query");
        CHECK(set.errors[1].line == 10);
        CHECK(set.errors[1].message.find("exception.rule_id is empty") == 0);
        CHECK(set.errors[2].line == 13);
        CHECK(set.errors[2].message == "exception needs a query");
        CHECK(set.errors[3].line == 16);
        CHECK(set.errors[3].message.find("unknown key \"exceptions\"") == 0);
    }
    SECTION("a file that cannot be read") {
        const ExceptionSet set = load_exceptions_file("/nonexistent/exceptions.toml");
        REQUIRE(set.errors.size() == 1);
        CHECK(set.errors[0].source == "/nonexistent/exceptions.toml");
        CHECK(set.errors[0].message.find("cannot read /nonexistent/exceptions.toml:") == 0);
    }
    SECTION("an empty file holds no exceptions and no error") {
        const ExceptionSet set = load_exceptions("# nothing yet\n", "ex.toml");
        CHECK(set.ok());
        CHECK(set.exceptions.empty());
    }
}

TEST_CASE("Exceptions: the fingerprint changes when exceptions change", "[exceptions]") {
    const auto plain = builtin();
    SECTION("in the rule file") {
        const auto with = must_load(builtin_plus(kXargsException), "built-in");
        CHECK(with->fingerprint != plain->fingerprint);
    }
    SECTION("from an exceptions file") {
        const auto a = load_exceptions("[[exception]]\nquery = 'user.name:nagios'\n", "a.toml").exceptions;
        const auto a_again = load_exceptions("# moved\n\n[[exception]]\nquery = 'user.name:nagios'\n", "b.toml").exceptions;
        const auto b = load_exceptions("[[exception]]\nquery = 'user.name:zabbix'\n", "a.toml").exceptions;
        const auto for_other = load_exceptions("[[exception]]\nrule_id = 'x'\nquery = 'user.name:nagios'\n", "a.toml").exceptions;
        const auto with_a = with_exceptions({plain}, a)[0];
        CHECK(with_a->fingerprint != plain->fingerprint);
        CHECK(with_exceptions({plain}, a_again)[0]->fingerprint == with_a->fingerprint);  // same queries
        CHECK(with_exceptions({plain}, b)[0]->fingerprint != with_a->fingerprint);
        CHECK(with_exceptions({plain}, {})[0] == plain);  // nothing applies: the same rule
        CHECK(with_exceptions({plain}, for_other)[0] == plain);
    }
}

TEST_CASE("Exceptions: a file in a folder loads through load_exceptions_file", "[exceptions]") {
    TempDir dir;
    const std::string path = dir.write("exceptions.toml", "[[exception]]\nquery = 'user.name:backup'\n");
    const ExceptionSet set = load_exceptions_file(path);
    REQUIRE(set.ok());
    REQUIRE(set.exceptions.size() == 1);
    CHECK(set.exceptions[0].source == path);
    CHECK(set.exceptions[0].line == 1);
}
