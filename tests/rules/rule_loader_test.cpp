#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "rules/rule_loader.h"
#include "tests/rules/test_files.h"

using namespace scanwatch::rules;
using scanwatch::test::TempDir;

namespace {

const std::string kSeedId = "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a";

std::string rule_text(const std::string& id, const std::string& query) {
    return "[rule]\nname = \"n-" + id + "\"\nrule_id = \"" + id +
           "\"\ntype = \"threshold\"\nquery = '''" + query +
           "'''\n[rule.threshold]\nfield = [\"host.id\"]\nvalue = 1\n";
}

}  // namespace

TEST_CASE("Rule loader: no rule files means the built-in rules, without findings", "[rule-loader]") {
    const LoadResult r = load_rule_sources({});
    REQUIRE(r.rules.size() == 4);  // the exec rule, port scan, host sweep, raw socket
    CHECK(r.rules[0]->rule_id == kSeedId);
    CHECK(r.rules[1]->rule_id == "ef8c9193-0ebd-4305-bb76-d76a916f8187");
    CHECK(r.rules[2]->rule_id == "100739c9-bd25-450c-85ee-0ce2c72a88d4");
    CHECK(r.rules[3]->rule_id == "30834ca9-3c70-4191-8fd0-eba79efd9e0d");
    CHECK(r.findings.empty());
    CHECK(r.ok());
    CHECK(r.as_string().empty());
}

TEST_CASE("Rule loader: errors are findings with file, line and column", "[rule-loader]") {
    TempDir dir;
    dir.write("a.toml", rule_text("a", "process.name:ping"));
    const std::string bad = dir.write("b.toml", rule_text("b", "process.name:ping and\n  (bogus"));
    SECTION("named, a file that does not load is an error") {
        const LoadResult r = load_rule_sources({{dir.path() + "/a.toml", bad}, {}});
        REQUIRE(r.rules.size() == 1);  // the good file still loads
        REQUIRE(r.findings.size() == 1);
        const Finding& f = r.findings[0];
        CHECK(f.severity == Severity::error);
        CHECK(f.file == bad);
        CHECK(f.line == 6);  // "  (bogus": the word after the parenthesis
        CHECK(f.column == 4);
        CHECK(f.message.rfind("query: ", 0) == 0);
        CHECK_FALSE(r.ok());
        CHECK(r.as_string() == "error: " + bad + ":6:4: " + f.message + "\n");
    }
    SECTION("in a folder, it is skipped with its error, as Kibana imports the others") {
        const LoadResult r = load_rule_sources({{dir.path()}, {}});
        REQUIRE(r.rules.size() == 1);
        REQUIRE(r.findings.size() == 1);
        const Finding& f = r.findings[0];
        CHECK(f.severity == Severity::warning);
        CHECK(f.kind == FindingKind::skipped_broken);
        CHECK(f.reason == "kuery: query error");
        CHECK(f.in_folder);
        CHECK(f.line == 6);
        CHECK(f.message.rfind("skipped: query: ", 0) == 0);
        CHECK(r.ok());
    }
}

TEST_CASE("Rule loader: warnings name the rule or the exception", "[rule-loader]") {
    TempDir dir;
    const std::string rule = dir.write("net.toml", rule_text("net", "event.category:file"));
    const std::string exc = dir.write("exc.toml", "\n[[exception]]\nrule_id = \"nope\"\nquery = \"user.name:x\"\n");
    const LoadResult r = load_rule_sources({{rule}, {exc}});
    CHECK(r.ok());  // warnings do not stop the rules
    REQUIRE(r.findings.size() == 2);
    const Finding& on_exception = r.findings[0];
    CHECK(on_exception.severity == Severity::warning);
    CHECK(on_exception.file == exc);
    CHECK(on_exception.line == 2);
    CHECK(on_exception.rule_id == "nope");
    CHECK(on_exception.to_string() ==
          exc + ":2: exception for rule_id \"nope\" applies to no loaded rule");
    const Finding& on_rule = r.findings[1];
    CHECK(on_rule.severity == Severity::warning);
    CHECK(on_rule.rule_id == "net");
    CHECK(on_rule.rule_name == "n-net");
    CHECK(on_rule.to_string().rfind("n-net (" + rule + "): cannot fire on scanwatch events", 0) == 0);
    CHECK(r.as_string().find("warning: n-net (") != std::string::npos);
}

TEST_CASE("Rule loader: as_json holds every field of every finding", "[rule-loader]") {
    TempDir dir;
    dir.write("a.toml", rule_text("a", "process.name:ping"));
    const std::string dup = dir.write("b.toml", rule_text("a", "process.name:nmap"));
    const LoadResult r = load_rule_sources({{dir.path()}, {}});
    const auto j = nlohmann::json::parse(r.as_json());
    CHECK(j["ok"] == false);
    REQUIRE(j["rules"].size() == 1);
    CHECK(j["rules"][0]["rule_id"] == "a");
    CHECK(j["rules"][0]["name"] == "n-a");
    REQUIRE(j["findings"].size() == 1);
    const auto& f = j["findings"][0];
    CHECK(f["severity"] == "error");
    CHECK(f["file"] == dup);
    CHECK(f["line"] == 3);
    CHECK(f["column"] == 1);
    CHECK(f["message"].get<std::string>().rfind("duplicate rule_id \"a\"", 0) == 0);
    CHECK(f.contains("rule_id"));
    CHECK(f.contains("rule_name"));
}

TEST_CASE("Rule loader: a folder without rules is one error, and no rules at all is an error", "[rule-loader]") {
    TempDir dir;
    const LoadResult r = load_rule_sources({{dir.path()}, {}});
    CHECK(r.rules.empty());
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].line == 0);
    CHECK(r.findings[0].to_string() == dir.path() + ": no rule files (*.toml) in folder " + dir.path());
    CHECK_FALSE(r.ok());
}

TEST_CASE("Rule loader: one file's text loads and checks as a file does", "[rule-loader]") {
    const LoadResult good = load_rule_text(rule_text("t", "event.category:file"), "t.toml");
    REQUIRE(good.rules.size() == 1);
    REQUIRE(good.findings.size() == 1);
    CHECK(good.findings[0].severity == Severity::warning);
    const LoadResult bad = load_rule_text("[rule]\nname = 1\n", "t.toml");
    CHECK(bad.rules.empty());
    REQUIRE(bad.findings.size() == 1);
    CHECK(bad.findings[0].file == "t.toml");
    CHECK_FALSE(bad.ok());
}
