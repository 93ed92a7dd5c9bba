#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/rule_files.h"
#include "tests/rules/test_files.h"

using namespace scanwatch::rules;
using scanwatch::test::slurp;
using scanwatch::test::TempDir;

namespace {

const std::string kElastic = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/";

std::string rule_text(const std::string& rule_id, const std::string& query = "process.name:ping") {
    return "[rule]\nname = \"rule " + rule_id + "\"\nrule_id = \"" + rule_id +
           "\"\ntype = \"threshold\"\nquery = '" + query +
           "'\n[rule.threshold]\nfield = [\"host.id\"]\nvalue = 1\n";
}

std::vector<std::string> ids(const RuleSet& set) {
    std::vector<std::string> out;
    for (const auto& r : set.rules) out.push_back(r->rule_id);
    return out;
}

}  // namespace

TEST_CASE("Rule set: each Elastic rule file loads unmodified from its path", "[rule-set]") {
    for (const char* name : {"discovery_ping_sweep_detected.v4.toml",
                             "discovery_ping_sweep_detected.latest.toml",
                             "impact_process_kill_threshold.toml"}) {
        INFO(name);
        const RuleSet set = load_rules(kElastic + name);
        CHECK(set.ok());
        REQUIRE(set.rules.size() == 1);
        CHECK(set.rules[0]->source == kElastic + name);
        // The fingerprint is the file text's: the same file loaded twice is the same rule.
        CHECK(set.rules[0]->fingerprint == load_rules(kElastic + name).rules[0]->fingerprint);
    }
}

TEST_CASE("Rule set: a folder loads its *.toml files in name order", "[rule-set]") {
    TempDir dir;
    dir.write("20-second.toml", rule_text("second"));
    dir.write("10-first.toml", rule_text("first"));
    dir.write("30-third.toml", rule_text("third"));
    dir.write("README.md", "not a rule");
    dir.write("40-disabled.toml.off", rule_text("off"));
    dir.write(".50-hidden.toml", rule_text("hidden"));
    dir.write("sub/60-nested.toml", rule_text("nested"));
    const RuleSet set = load_rules(dir.path());
    CHECK(set.ok());
    CHECK(ids(set) == std::vector<std::string>{"first", "second", "third"});
    CHECK(set.rules[0]->source == dir.path() + "/10-first.toml");
}

TEST_CASE("Rule set: a duplicate rule_id is an error naming both files", "[rule-set]") {
    SECTION("Elastic's two versions of the network-scan rule share their rule_id") {
        const RuleSet set = load_rules(kElastic);
        // latest sorts before v4, so v4 is the duplicate; the kill rule still loads.
        CHECK(ids(set) == std::vector<std::string>{"03c23d45-d3cb-4ad4-ab5d-b361ffe8724a",
                                                   "67f8443a-4ff3-4a70-916d-3cfa3ae9f02b"});
        REQUIRE(set.errors.size() == 1);
        const RuleError& e = set.errors[0];
        CHECK(e.source == kElastic + "discovery_ping_sweep_detected.v4.toml");
        CHECK(e.message.find("duplicate rule_id \"03c23d45-d3cb-4ad4-ab5d-b361ffe8724a\"") == 0);
        CHECK(e.message.find(kElastic + "discovery_ping_sweep_detected.latest.toml") !=
              std::string::npos);
        // Points at the rule_id line of the v4 file.
        const std::string v4 = slurp(kElastic + "discovery_ping_sweep_detected.v4.toml");
        const auto at = v4.find("\nrule_id = ");
        REQUIRE(at != std::string::npos);
        CHECK(e.line == 1 + static_cast<int>(std::count(v4.begin(), v4.begin() + static_cast<long>(at) + 1, '\n')));
        CHECK(e.column == 1);
    }
    SECTION("across several paths") {
        TempDir a;
        TempDir b;
        const std::string one = a.write("one.toml", rule_text("same"));
        const std::string two = b.write("two.toml", rule_text("same"));
        const RuleSet set = load_rules(std::vector<std::string>{one, two});
        CHECK(ids(set) == std::vector<std::string>{"same"});
        REQUIRE(set.errors.size() == 1);
        CHECK(set.errors[0].source == two);
        CHECK(set.errors[0].message.find(one) != std::string::npos);
        CHECK(set.errors[0].to_string().rfind(two + ":3:1: duplicate rule_id", 0) == 0);
    }
}

TEST_CASE("Rule set: errors are collected with their positions, good files still load", "[rule-set]") {
    TempDir dir;
    dir.write("a.toml", rule_text("a"));
    dir.write("b.toml", rule_text("b", "process.name:(ping or"));  // query ends too early
    dir.write("c.toml", "[rule]\nname = \"x\n");                    // TOML syntax
    dir.write("d.toml", rule_text("d"));
    // In a folder, files that do not load are skipped with their errors (a detection-rules
    // checkout must not go down for one file); named explicitly, they are errors.
    const RuleSet set = load_rules(dir.path());
    CHECK(ids(set) == std::vector<std::string>{"a", "d"});
    CHECK(set.ok());
    REQUIRE(set.skipped.size() == 2);
    CHECK(set.skipped[0].source == dir.path() + "/b.toml");
    CHECK(set.skipped[0].line == 5);  // query = '...' is line 5
    CHECK(set.skipped[0].column > 10);
    CHECK(set.skipped[0].message.find("query:") == 0);
    CHECK_FALSE(set.skipped[0].unsupported);
    CHECK(set.skipped[0].kind == "kuery: query error");
    CHECK(set.skipped[1].source == dir.path() + "/c.toml");
    CHECK(set.skipped[1].line == 2);
    const RuleSet named = load_rules(std::vector<std::string>{
        dir.path() + "/a.toml", dir.path() + "/b.toml", dir.path() + "/c.toml"});
    CHECK(ids(named) == std::vector<std::string>{"a"});
    REQUIRE(named.errors.size() == 2);
    CHECK(named.errors[0].line == 5);
    CHECK(named.errors[1].line == 2);
    CHECK_FALSE(named.ok());
}

TEST_CASE("Rule set: a rule with enabled = false is set aside, as Kibana never runs it", "[rule-set]") {
    TempDir dir;
    dir.write("a.toml", rule_text("a"));
    const std::string off = dir.write(
        "b.toml", "[rule]\nname = \"b\"\nrule_id = \"b\"\ntype = \"query\"\nenabled = false\n"
                  "query = 'event.kind:event'\n");
    dir.write("c.toml", "[rule]\nname = \"c\"\nrule_id = \"c\"\ntype = \"query\"\nenabled = true\n"
                        "query = 'event.kind:event'\n");
    const RuleSet set = load_rules(dir.path());
    CHECK(set.ok());
    CHECK(ids(set) == std::vector<std::string>{"a", "c"});
    REQUIRE(set.disabled.size() == 1);
    CHECK(set.disabled[0]->rule_id == "b");
    CHECK(set.disabled_in_folder == std::vector<bool>{true});
    // Named explicitly, still not run.
    const RuleSet named = load_rules(off);
    CHECK(named.rules.empty());
    CHECK(named.disabled.size() == 1);
    CHECK(named.disabled_in_folder == std::vector<bool>{false});
    // enabled must be a boolean.
    const RuleSet bad = load_rules(dir.write(
        "d.toml", "[rule]\nname = \"d\"\nrule_id = \"d\"\ntype = \"query\"\nenabled = \"no\"\n"
                  "query = 'event.kind:event'\n"));
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.errors[0].message == "rule.enabled must be true or false");
    CHECK(bad.errors[0].line == 5);
}

TEST_CASE("Rule set: paths that give no rules are errors", "[rule-set]") {
    SECTION("missing path") {
        const RuleSet set = load_rules("/nonexistent/scanwatch/rules");
        REQUIRE(set.errors.size() == 1);
        CHECK(set.errors[0].source == "/nonexistent/scanwatch/rules");
        CHECK(set.errors[0].line == 0);
        CHECK(set.errors[0].message.find("cannot open") == 0);
        CHECK(set.errors[0].to_string().find("No such file or directory") != std::string::npos);
    }
    SECTION("a folder without rule files") {
        TempDir dir;
        dir.write("notes.txt", "x");
        const RuleSet set = load_rules(dir.path());
        CHECK(set.rules.empty());
        REQUIRE(set.errors.size() == 1);
        CHECK(set.errors[0].message.find("no rule files") == 0);
    }
    SECTION("a file named explicitly loads whatever its name") {
        TempDir dir;
        const RuleSet set = load_rules(dir.write("rule.conf", rule_text("x")));
        CHECK(set.ok());
        CHECK(ids(set) == std::vector<std::string>{"x"});
    }
}

TEST_CASE("Rule set: a folder skips rule types scanwatch does not run; named, they are errors",
          "[rule-set]") {
    TempDir dir;
    dir.write("10-scan.toml", rule_text("scan"));
    const std::string ml = dir.write(
        "20-ml.toml", "[rule]\nname = \"e\"\nrule_id = \"e\"\ntype = \"machine_learning\"\n"
                      "query = 'a:b'\n");
    dir.write("30-lucene.toml", "[rule]\nname = \"l\"\nrule_id = \"l\"\ntype = \"query\"\n"
                                "language = \"lucene\"\nquery = 'a:b'\n");
    const RuleSet set = load_rules(dir.path());
    CHECK(set.ok());
    CHECK(ids(set) == std::vector<std::string>{"scan"});
    REQUIRE(set.skipped.size() == 2);
    CHECK(set.skipped[0].message.find("rule type \"machine_learning\" is not supported") != std::string::npos);
    const RuleSet named = load_rules(ml);
    CHECK_FALSE(named.ok());
    CHECK(named.skipped.empty());
    // A query with a syntax error in a folder is skipped too, not as unsupported.
    dir.write("40-bad.toml", rule_text("bad", "process.name:("));
    const RuleSet with_bad = load_rules(dir.path());
    CHECK(with_bad.ok());
    REQUIRE(with_bad.skipped.size() == 3);
    CHECK_FALSE(with_bad.skipped[2].unsupported);
    CHECK(with_bad.skipped[0].kind == "type machine_learning");
    CHECK(with_bad.skipped[1].kind == "language lucene");
}
