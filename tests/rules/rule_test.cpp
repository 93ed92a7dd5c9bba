#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "rules/rule.h"

using namespace scanwatch::rules;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::shared_ptr<const RuleDefinition> must_load(std::string_view text, std::string_view source) {
    auto r = load_rule(text, source);
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

RuleError must_fail(std::string_view text) {
    auto r = load_rule(text, "bad.toml");
    REQUIRE(std::holds_alternative<RuleError>(r));
    return std::get<RuleError>(r);
}

constexpr const char* kMinimal = R"(
[rule]
name = "n"
rule_id = "r"
type = "threshold"
query = "process.name:ping"
[rule.threshold]
field = ["host.id"]
value = 1
)";

}  // namespace

TEST_CASE("Rules: the built-in rule states the facts of Elastic's v4 rule", "[rule]") {
    const auto ours = must_load(builtin_rule_text(), "built-in");
    const auto elastic = must_load(read_file(SCANWATCH_SOURCE_DIR "/tests/elastic-rules/discovery_ping_sweep_detected.v4.toml"),
                                   "discovery_ping_sweep_detected.v4.toml");
    CHECK(ours->rule_id == "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a");
    CHECK(ours->rule_id == elastic->rule_id);
    CHECK(ours->name == elastic->name);
    CHECK(ours->severity == elastic->severity);
    CHECK(ours->risk_score == elastic->risk_score);
    CHECK(ours->query.to_string() == elastic->query.to_string());
    CHECK(ours->group_by == elastic->group_by);
    CHECK(ours->group_by == std::vector<std::string>{"host.id", "process.parent.entity_id", "process.executable"});
    CHECK(ours->threshold_value == elastic->threshold_value);
    REQUIRE(ours->cardinality);
    REQUIRE(elastic->cardinality);
    CHECK(ours->cardinality->field == "process.args");
    CHECK(ours->cardinality->value == 100);
    CHECK(elastic->cardinality->value == 100);
    CHECK(ours->from_ms == 9 * 60'000);
    CHECK(elastic->from_ms == ours->from_ms);
    CHECK(ours->interval_ms == 5 * 60'000);
    CHECK(elastic->interval_ms == ours->interval_ms);  // Elastic's default interval
    CHECK(ours->max_signals == 100);
    REQUIRE(ours->threat.size() == 1);
    CHECK(ours->threat[0].tactic.id == "TA0007");
    REQUIRE(ours->threat[0].techniques.size() == 1);
    CHECK(ours->threat[0].techniques[0].id == "T1046");
    CHECK(elastic->threat[0].techniques[0].id == "T1046");
    CHECK(ours->unknown_fields.empty());
}

TEST_CASE("Rules: durations", "[rule]") {
    CHECK(parse_duration_ms("now-9m") == 540'000);
    CHECK(parse_duration_ms("5m") == 300'000);
    CHECK(parse_duration_ms("30s") == 30'000);
    CHECK(parse_duration_ms("1h") == 3'600'000);
    CHECK(parse_duration_ms("now-") == -1);
    CHECK(parse_duration_ms("9x") == -1);
    CHECK(parse_duration_ms("-9m") == -1);
    CHECK(parse_duration_ms("3650d") == kMaxDurationMs);
    CHECK(parse_duration_ms("3651d") == -1);
    // Found by fuzz_rule_file: the product overflowed (undefined behaviour).
    CHECK(parse_duration_ms("now-9999999999999999d") == -1);
    CHECK(parse_duration_ms("now-0000000000000000000000000003070572018536022016m") == -1);
    CHECK(parse_duration_ms("9223372036854775807s") == -1);
}

TEST_CASE("Rules: a minimal rule gets Kibana's defaults", "[rule]") {
    const auto r = must_load(kMinimal, "min.toml");
    CHECK(r->from_ms == 6 * 60'000);
    CHECK(r->interval_ms == 5 * 60'000);
    CHECK(r->max_signals == 100);
    CHECK_FALSE(r->cardinality);
}

TEST_CASE("Rules: errors name file, line and column", "[rule]") {
    SECTION("TOML syntax") {
        const auto e = must_fail("[rule]\nname = \"x\nrule_id = 1\n");
        CHECK(e.source == "bad.toml");
        CHECK(e.line == 2);
        CHECK(e.to_string().rfind("bad.toml:2:", 0) == 0);
    }
    SECTION("a query error points into the query string") {
        std::string text = kMinimal;
        text.replace(text.find("query = \"process.name:ping\""), 27, "query = '''\nprocess.name:ping and\n  bogus'''");
        const auto e = must_fail(text);
        CHECK(e.line == 8);  // the line holding "  bogus"
        CHECK(e.message.find("query:") == 0);
    }
    SECTION("a rule type scanwatch does not run") {
        std::string text = kMinimal;
        text.replace(text.find("threshold\""), 10, "machine_learning\"");
        const auto e = must_fail(text);
        CHECK(e.message.find("not supported") != std::string::npos);
    }
    SECTION("missing threshold value") {
        std::string text = kMinimal;
        text.replace(text.find("value = 1"), 9, "value = 0");
        CHECK(must_fail(text).message.find("threshold.value") != std::string::npos);
    }
    SECTION("no [rule] table") { CHECK(must_fail("[metadata]\nx = 1\n").message == "no [rule] table"); }
    SECTION("an error at the end of the file stays on a line of the file") {
        // Found by fuzz_rule_file: toml++ put this one column past the end of a line.
        const std::string text = "[rule]\nquery = '''\nabcdef\nx = 1\n";
        const auto e = must_fail(text);
        REQUIRE(e.line >= 1);
        REQUIRE(e.line <= 5);
        const std::string lines[] = {"[rule]", "query = '''", "abcdef", "x = 1", ""};
        CHECK(e.column <= static_cast<int>(lines[e.line - 1].size()) + 1);
    }
    SECTION("a query with escaped newlines points inside the file") {
        std::string text = kMinimal;
        text.replace(text.find("query = \"process.name:ping\""), 27,
                     "query = \"process.name:ping and\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n bogus\"");
        const auto e = must_fail(text);
        CHECK(e.message.find("query:") == 0);
        int lines = 0;
        for (char c : text) lines += c == '\n';
        CHECK(e.line <= lines + 1);
    }
}

TEST_CASE("Rules: every Elastic rule file in the fixtures loads unmodified", "[rule]") {
    for (const char* name : {"discovery_ping_sweep_detected.v4.toml", "discovery_ping_sweep_detected.latest.toml",
                             "impact_process_kill_threshold.toml"}) {
        INFO(name);
        const auto r = must_load(read_file(std::string(SCANWATCH_SOURCE_DIR "/tests/elastic-rules/") + name), name);
        CHECK(r->type == "threshold");
    }
}
