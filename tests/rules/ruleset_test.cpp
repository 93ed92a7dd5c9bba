// Loading Elastic's rule set as it ships: the exec alias of other agents' action names, fields
// scanwatch never fills, disabled rules, and the one-line report of a folder's routine findings.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/rule_check.h"
#include "rules/rule_files.h"
#include "rules/rule_loader.h"
#include "rules/rule_summary.h"
#include "rules/ruleset/exec_alias.h"
#include "rules/ruleset/load_report.h"
#include "tests/rules/test_files.h"

using namespace scanwatch::rules;
using scanwatch::test::TempDir;

namespace {

std::string query_rule(const std::string& id, const std::string& query,
                       const std::string& language = "kuery", const std::string& extra = "") {
    return "[rule]\nname = \"n-" + id + "\"\nrule_id = \"" + id + "\"\ntype = \"" +
           (language == "eql" ? "eql" : "query") + "\"\nlanguage = \"" + language + "\"\n" + extra +
           "query = '''" + query + "'''\n";
}

std::shared_ptr<const RuleDefinition> must_load(const std::string& text) {
    auto r = load_rule(text, "ruleset.toml");
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("Exec alias: a test for another agent's exec name also accepts executed", "[ruleset][exec-alias]") {
    SECTION("KQL, and it shows in the query as parsed") {
        const auto r = must_load(query_rule(
            "k", "event.category:process and event.action:(exec or exec_event or start or "
                 "ProcessRollup2) and process.name:whoami"));
        CHECK_FALSE(can_fire(*r));
        const auto aliased = with_exec_alias(r, ExecAction::any);
        CHECK(aliased != r);
        CHECK(aliased->exec_alias);
        CHECK(aliased->fingerprint != r->fingerprint);
        CHECK(contains(aliased->query.to_string(), "event.action:executed"));
        CHECK(can_fire(*aliased));
        CHECK(with_exec_alias(r, ExecAction::executed) == r);
    }
    SECTION("EQL in, : and ==, in any case where the test ignores it") {
        for (const std::string q :
             {R"(process where event.type == "start" and event.action in ("exec", "exec_event") and process.name == "id")",
              R"(process where event.action : "EXEC" and process.name == "id")",
              R"(process where event.action == "ProcessRollup2" and process.name == "id")"}) {
            INFO(q);
            const auto r = must_load(query_rule("e", q, "eql"));
            CHECK_FALSE(can_fire(*r));
            const auto aliased = with_exec_alias(r, ExecAction::any);
            CHECK(aliased->exec_alias);
            CHECK(can_fire(*aliased));
        }
    }
    SECTION("a rule that already lists executed (the built-in rule) is left as it is") {
        const auto builtin = must_load(std::string(builtin_rule_text()));
        CHECK(with_exec_alias(builtin, ExecAction::any) == builtin);
        const LoadResult r = load_rule_sources({});
        CHECK(r.rules[0]->fingerprint == builtin->fingerprint);
        CHECK_FALSE(r.rules[0]->exec_alias);
    }
    SECTION("exceptions get it too, and the setting reaches load_rule_sources") {
        TempDir dir;
        const std::string file = dir.write(
            "x.toml", query_rule("x", "event.action:exec and process.name:id") +
                          "[[rule.exceptions]]\nquery = 'event.action:start and user.name:root'\n");
        RuleSources sources{{file}, {}};
        const LoadResult any = load_rule_sources(sources);
        REQUIRE(any.rules.size() == 1);
        CHECK(contains(any.rules[0]->exceptions[0].query.to_string(), "executed"));
        CHECK(can_fire(*any.rules[0]));
        sources.exec_action = ExecAction::executed;
        const LoadResult exact = load_rule_sources(sources);
        CHECK_FALSE(can_fire(*exact.rules[0]));
        CHECK(contains(cannot_fire_reasons(*exact.rules[0]).front(), "--exec-action executed"));
    }
    SECTION("an EQL sequence's terms and its until get it, each its own query") {
        const auto r = must_load(query_rule(
            "s",
            "sequence by process.entity_id with maxspan=1m "
            "[process where event.action == \"exec\" and process.name == \"unshare\"] "
            "[process where event.action in (\"exec\", \"start\") and user.id == \"0\"] "
            "until [process where event.action == \"exec\" and process.name == \"exit\"]",
            "eql"));
        REQUIRE(r->eql_sequence);
        CHECK_FALSE(can_fire(*r));
        const auto aliased = with_exec_alias(r, ExecAction::any);
        REQUIRE(aliased->eql_sequence);
        CHECK(aliased->eql_sequence != r->eql_sequence);
        for (const auto& stage : aliased->eql_sequence->stages) {
            CHECK(contains(stage.query.to_string(), "executed"));
        }
        CHECK(contains(aliased->eql_sequence->until.query.to_string(), "executed"));
        // The rule as loaded is untouched.
        CHECK_FALSE(contains(r->eql_sequence->stages[0].query.to_string(), "executed"));
        CHECK(can_fire(*aliased));
    }
    SECTION("a negated test excludes executed too") {
        const auto r = with_exec_alias(
            must_load(query_rule("n", "event.category:process and process.name:id and not event.action:exec")),
            ExecAction::any);
        CHECK_FALSE(can_fire(*r));
    }
}

TEST_CASE("Rule check: fields scanwatch never fills that a rule needs are named", "[ruleset][rule-check]") {
    const auto aliased = [](const std::string& q) {
        return with_exec_alias(must_load(query_rule("f", q, "eql")), ExecAction::any);
    };
    SECTION("needed under and: cannot fire, naming exactly those fields") {
        const auto r = aliased(
            R"(process where event.action == "exec" and process.entry_leader.entry_meta.type == "container" and process.name == "id" and (process.Ext.x == "a" or process.args == "b"))");
        const auto reasons = cannot_fire_reasons(*r);
        REQUIRE(reasons.size() == 1);
        CHECK(contains(reasons[0], "needs fields scanwatch never fills"));
        CHECK(contains(reasons[0], ": process.entry_leader.entry_meta.type"));
        CHECK_FALSE(contains(reasons[0], "process.Ext.x"));
        const auto warnings = rule_warnings(*r);
        REQUIRE(warnings.size() == 2);
        CHECK(contains(warnings[1], "process.entry_leader.entry_meta.type, process.Ext.x"));
    }
    SECTION("read under or, or negated: the rule can still fire, with a warning") {
        for (const std::string q :
             {R"(process where event.action == "exec" and (process.Ext.x == "a" or process.name == "id"))",
              R"(process where event.action == "exec" and process.name == "id" and not process.entry_leader.entry_meta.type == "container")",
              R"(process where event.action == "exec" and process.name == "id" and process.Ext.x != "a")"}) {
            INFO(q);
            const auto r = aliased(q);
            CHECK(can_fire(*r));
            const auto warnings = rule_warnings(*r);
            REQUIRE(warnings.size() == 1);
            CHECK(contains(warnings[0], "never have a value here"));
        }
    }
    SECTION("needed one or the other: both are named") {
        const auto r = aliased(
            R"(process where event.action == "exec" and (process.Ext.x == "a" or process.Ext.y == "b"))");
        const auto reasons = cannot_fire_reasons(*r);
        REQUIRE(reasons.size() == 1);
        CHECK(contains(reasons[0], ": process.Ext.x, process.Ext.y"));
    }
}

TEST_CASE("Load report: a folder's routine findings are one line, the rest shown", "[ruleset][load-report]") {
    TempDir dir;
    dir.write("a.toml", query_rule("a", "event.category:process and process.name:id"));
    dir.write("b.toml", query_rule("b", "event.category:file and file.path:x"));
    dir.write("c.toml", query_rule("c", "event.kind:event", "kuery", "enabled = false\n"));
    dir.write("d.toml", query_rule("d", "process.name:("));
    dir.write("e.toml", "[rule]\nname = \"e\"\nrule_id = \"e\"\ntype = \"machine_learning\"\n"
                        "query = 'a:b'\n");
    dir.write("f.toml", "[rule]\nname = \"f\"\nrule_id = \"f\"\ntype = \"machine_learning\"\n"
                        "query = 'a:b'\n");
    const std::string named = dir.write("named/g.toml", query_rule("g", "event.category:iam"));
    const LoadResult loaded = load_rule_sources({{dir.path(), named}, {}});
    CHECK(loaded.ok());
    REQUIRE(loaded.rules.size() == 3);  // a, b, g

    const LoadReport quiet = load_report(loaded, false);
    CHECK(quiet.summary ==
          "rules: 3 loaded, 1 can fire on scanwatch events, 2 cannot; 3 files skipped (2 type "
          "machine_learning, 1 kuery: query error); 1 disabled (enabled = false); `scanwatch rules check` on the same "
          "paths lists each (--verbose prints them here)");
    // Shown: the broken file of the folder, and the named file's warnings; not b, c, e, f.
    std::vector<std::string> shown;
    for (const Finding& f : quiet.shown) shown.push_back(f.file);
    CHECK(shown == std::vector<std::string>{dir.path() + "/d.toml", named});

    const LoadReport verbose = load_report(loaded, true);
    CHECK(verbose.shown.size() == loaded.findings.size());
    CHECK(contains(verbose.summary, "rules: 3 loaded"));

    // Nothing routine (the built-in rules): no line at all.
    CHECK(load_report(load_rule_sources({}), false).summary.empty());
}

TEST_CASE("rules check --summary: disabled rules and the exec alias", "[ruleset][summary]") {
    TempDir dir;
    dir.write("a.toml", query_rule("a", "event.action:exec and process.name:id"));
    dir.write("b.toml", query_rule("b", "event.kind:event", "kuery", "enabled = false\n"));
    const Summary exact = summarize_rules({dir.path()});
    CHECK(exact.count(Verdict::cannot_fire) == 1);
    CHECK(exact.count(Verdict::disabled) == 1);
    const std::string text = exact.to_string();
    CHECK(contains(text, "disabled     " + dir.path() + "/b.toml: enabled = false"));
    CHECK(contains(text, "files 2, load 2, can fire 0, cannot fire 1, refused 0, disabled 1\n"));
    const Summary any = summarize_rules({dir.path()}, ExecAction::any);
    CHECK(any.count(Verdict::can_fire) == 1);
    CHECK(contains(any.to_string(), "files 2, load 2, can fire 1, cannot fire 0, refused 0, disabled 1\n"));
}

TEST_CASE("KQL: the two shipped rules the parser refused load as Kibana reads them", "[ruleset][kql-space]") {
    const std::string elastic = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/";
    const RuleSet curl = load_rules(elastic + "kql/command_and_control_auditd_curl_wget_from_container.toml");
    REQUIRE(curl.ok());
    REQUIRE(curl.rules.size() == 1);
    const std::string q = curl.rules[0]->query.to_string();
    CHECK(contains(q, R"(process.args:*\ curl* or process.args:*/bin/curl* or process.args:*wget*)"));
    CHECK(contains(q, R"(not (process.args:*127.0.0.1* or process.args:*localhost* or process.args:"wget --no-verbose)"));
    // It reads data_stream.dataset, which scanwatch never fills: loads, cannot fire, says why.
    const auto reasons = cannot_fire_reasons(*curl.rules[0]);
    REQUIRE(reasons.size() == 1);
    CHECK(contains(reasons[0], "needs fields scanwatch never fills"));
    CHECK(contains(reasons[0], "data_stream.dataset"));

    const RuleSet creds = load_rules(
        elastic + "ruleset/credential_access_kubernetes_and_cloud_credential_paths_via_process_args.toml");
    REQUIRE(creds.ok());
    REQUIRE(creds.rules.size() == 1);
    CHECK(can_fire(*creds.rules[0]));
    // A value without its `or` runs on over the line break into the next one, as in Kibana.
    CHECK(contains(creds.rules[0]->query.to_string(),
                   "process.args:*confluence/conf/server.xml\\n\\ \\ */.config/gcloud/application_default_credentials.json"));
}
