// The rule index (rules/index/rule_index.h) changes which rules an event is tried against, never
// what comes out: every sample and corpus log is replayed with every rule the repository holds
// (built-in, Elastic's of tests/elastic-rules, and rules of tricky shapes written here), with the
// index and without, in both profiles' name matching and both threshold evaluations, and the
// alerts and the stats must be the same bytes.
// SCANWATCH_INDEX_EQUIVALENCE_RULES=FOLDER adds a folder of rules (e.g. every loadable Elastic
// Linux rule: LOADABLE_OUT of scripts/elastic-rules-report.sh).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/rule_files.h"
#include "tests/agent/replay_harness.h"

namespace fs = std::filesystem;
using scanwatch::rules::RuleDefinition;

namespace {

using Rules = std::vector<std::shared_ptr<const RuleDefinition>>;

std::string rule_text(const std::string& id, const std::string& type, const std::string& language,
                      const std::string& query, const std::string& extra = "") {
    return "[rule]\nrule_id = \"" + id + "\"\nname = \"" + id + "\"\ntype = \"" + type +
           "\"\nlanguage = \"" + language +
           "\"\nseverity = \"low\"\nrisk_score = 21\ninterval = \"5m\"\nfrom = \"now-9m\"\n"
           "query = '''\n" +
           query + "\n'''\n" + extra;
}

// Shapes the index must get right: or, not, wildcards, EQL's case-insensitive `:` and `in~`,
// exact upper-case values, names only the hardened profile's wider process.name sees (argv[0],
// exe, busybox applets, the loader's program), threshold rules grouping like the built-in one.
Rules tricky_rules() {
    const std::string threshold =
        "[rule.threshold]\nfield = [\"process.parent.entity_id\"]\nvalue = 3\n";
    const std::string cardinality = threshold +
                                    "[[rule.threshold.cardinality]]\nfield = \"process.args\"\n"
                                    "value = 3\n";
    const std::string new_terms =
        "[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"process.args\"]\n"
        "[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\n"
        "value = \"now-7d\"\n";
    const std::vector<std::string> texts = {
        rule_text("k1", "query", "kuery", "process.name:(ping or nc or ncat or curl)"),
        rule_text("k2", "query", "kuery", "process.name:PING or process.name:Nc"),
        rule_text("k3", "query", "kuery", "process.name:pi* and process.args:*"),
        rule_text("k4", "query", "kuery", "not process.name:ping and event.action:executed"),
        rule_text("k5", "query", "kuery",
                  "(process.name:ping and process.args:-c) or (process.name:busybox and "
                  "process.args:ping) or process.executable:/usr/bin/nc*"),
        rule_text("k6", "query", "kuery",
                  "process.executable:(/usr/bin/ping or /bin/ping or /usr/bin/nc.openbsd)"),
        rule_text("k7", "query", "kuery", "event.type:connection and destination.port:(22 or 80)"),
        rule_text("k8", "query", "kuery", "network.transport:tcp and process.name:(curl or nc or bash)"),
        rule_text("k9", "threshold", "kuery", "process.name:(ping or nc or ncat)", threshold),
        rule_text("k10", "threshold", "kuery", "process.name:(ping or nc or curl)", cardinality),
        rule_text("k11", "new_terms", "kuery", "process.name:(ping or sh or bash or sudo)", new_terms),
        rule_text("k12", "query", "kuery", "process.parent.name:(bash or xargs) and process.args:*"),
        rule_text("e1", "eql", "eql", "process where process.name : (\"PING\", \"Nc\", \"nmap\")"),
        rule_text("e2", "eql", "eql",
                  "process where process.name in~ (\"Ping\", \"NCAT\") and process.args : \"-*\""),
        rule_text("e3", "eql", "eql", "process where process.name == \"Ping\""),
        rule_text("e4", "eql", "eql",
                  "process where not process.name in (\"ping\", \"bash\") and process.args_count > 1"),
        rule_text("e5", "eql", "eql", "process where process.name like~ \"*ing\""),
        rule_text("e6", "eql", "eql", "network where process.name : \"curl\" and destination.port == 80"),
        rule_text("e7", "eql", "eql", "any where process.name : \"ping\" or process.name regex \"n.\""),
        rule_text("e8", "eql", "eql",
                  "process where event.action in (\"exec\", \"executed\") and process.name != null"),
        rule_text("s1", "eql", "eql",
                  "sequence by process.parent.pid with maxspan=1m [process where process.name : \"xargs\"] "
                  "[process where process.name : (\"PING\", \"nc\")]"),
        rule_text("s2", "eql", "eql",
                  "sequence by process.parent.pid [process where process.name : \"bash\"] "
                  "[process where process.name like~ \"pi*\"]"),
        // ES|QL: keyed on a WHERE (a column, TO_LOWER of one, IN, LIKE without wildcards, numbers),
        // an MV_EXPAND over a multi-valued column before it, an OR branch of another data set,
        // a computed column (no key), a WHERE nothing of scanwatch's passes (only the schedule).
        rule_text("q1", "esql", "esql",
                  "from logs-endpoint.events.process-* metadata _id | mv_expand process.args | where "
                  "process.args == \"-c\" and process.name in (\"ping\", \"bash\", \"sh\")"),
        rule_text("q2", "esql", "esql",
                  "from logs-* metadata _id | where (data_stream.dataset == \"panw.panos\" and "
                  "event.action == \"x\") or process.name == \"PING\" or to_lower(process.name) == \"nc\""),
        rule_text("q3", "esql", "esql",
                  "from logs-* metadata _id | eval n = to_lower(process.name) | where n == \"ping\""),
        rule_text("q4", "esql", "esql",
                  "from logs-endpoint.events.process-* | where process.name like \"ping\" and "
                  "process.args_count > 1 | stats c = count(*) by process.parent.pid | where c >= 3"),
        rule_text("q5", "esql", "esql",
                  "from logs-endpoint.events.network-* metadata _id | where destination.port == 22 or "
                  "destination.port in (80, 443, 9)"),
        rule_text("q6", "esql", "esql",
                  "from logs-* metadata _id | where data_stream.dataset == \"fortinet_fortigate.log\""),
        rule_text("q7", "esql", "esql",
                  "from logs-endpoint.events.process-* metadata _id | where KQL(\"process.name:ping\") "
                  "and process.args_count >= 2"),
    };
    Rules out;
    for (const std::string& text : texts) {
        auto r = scanwatch::rules::load_rule(text, "tricky.toml");
        if (auto* e = std::get_if<scanwatch::rules::RuleError>(&r)) FAIL(e->to_string());
        out.push_back(std::get<std::shared_ptr<const RuleDefinition>>(r));
    }
    return out;
}

void add_folder(Rules& rules, const std::string& folder) {
    auto set = scanwatch::rules::load_rules(folder);
    for (const auto& e : set.errors) UNSCOPED_INFO(e.to_string());
    rules.insert(rules.end(), set.rules.begin(), set.rules.end());
}

Rules all_rules() {
    Rules rules;
    for (const std::string_view text : scanwatch::rules::builtin_rule_texts()) {
        rules.push_back(std::get<std::shared_ptr<const RuleDefinition>>(
            scanwatch::rules::load_rule(std::string(text), "built-in")));
    }
    add_folder(rules, SCANWATCH_SOURCE_DIR "/tests/elastic-rules");
    for (const char* sub : {"linux", "ruleset", "sequences", "esql", "kql"}) {
        add_folder(rules, std::string(SCANWATCH_SOURCE_DIR "/tests/elastic-rules/") + sub);
    }
    const Rules tricky = tricky_rules();
    rules.insert(rules.end(), tricky.begin(), tricky.end());
    if (const char* extra = std::getenv("SCANWATCH_INDEX_EQUIVALENCE_RULES")) add_folder(rules, extra);
    return rules;
}

std::vector<std::string> logs_under(const std::string& folder, bool recursive) {
    std::vector<std::string> out;
    const auto add = [&](const fs::directory_entry& entry) {
        if (entry.is_regular_file() && entry.path().extension() != ".md" &&
            entry.path().extension() != ".sh") {
            out.push_back(entry.path().string());
        }
    };
    if (recursive) {
        for (const auto& entry : fs::recursive_directory_iterator(folder)) add(entry);
    } else {
        for (const auto& entry : fs::directory_iterator(folder)) add(entry);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The stats without what the clock and the process's memory decide.
std::string counts(const std::string& stats) {
    nlohmann::json j = nlohmann::json::parse(stats);
    j.erase("lag_ms");
    j.erase("max_rss_kb");
    return j.dump();
}

}  // namespace

TEST_CASE("Rule index: every rule gives the same alerts and stats with the index and without",
          "[rule_index][equivalence]") {
    const Rules rules = all_rules();
    REQUIRE(rules.size() > 30);
    std::vector<std::vector<std::string>> inputs;
    for (const std::string& log : logs_under(SCANWATCH_SOURCE_DIR "/samples", false)) {
        inputs.push_back({log});
    }
    // The corpus as one replay: many small real logs of many shapes.
    inputs.push_back(logs_under(SCANWATCH_CORPUS_DIR, true));
    REQUIRE(inputs.size() > 40);
    struct Mode {
        scanwatch::rules::NameMatch name_match;
        scanwatch::rules::Evaluation evaluation;
        bool session_grouping;
    };
    const Mode modes[] = {
        {scanwatch::rules::NameMatch::any, scanwatch::rules::Evaluation::streaming, true},
        {scanwatch::rules::NameMatch::comm, scanwatch::rules::Evaluation::scheduled, false},
    };
    // Under the sanitizers (about 30 times slower) one mode: the other is the Release run's.
#if defined(__SANITIZE_ADDRESS__)
    const std::size_t mode_count = 1;
#else
    const std::size_t mode_count = std::size(modes);
#endif
    std::size_t alerts = 0;
    for (std::size_t m = 0; m < mode_count; ++m) {
        const Mode& mode = modes[m];
        scanwatch::rules::EngineOptions engine;
        engine.name_match = mode.name_match;
        engine.evaluation = mode.evaluation;
        engine.session_grouping = mode.session_grouping;
        for (const auto& paths : inputs) {
            INFO(paths.front() << " (" << paths.size() << " files), name match "
                               << (mode.name_match == scanwatch::rules::NameMatch::any ? "any" : "comm"));
            const auto indexed = scanwatch::test::replay_with_rules(paths, rules, engine, false, true);
            const auto plain = scanwatch::test::replay_with_rules(paths, rules, engine, false, false);
            CHECK(indexed.alerts == plain.alerts);
            CHECK(counts(indexed.stats) == counts(plain.stats));
            alerts += indexed.alerts.size();
        }
    }
    // The comparison means something only if rules fire.
    CHECK(alerts > 100);
}
