#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/metrics/metrics_page.h"
#include "agent/metrics/metrics_server.h"
#include "agent/outputs/output_channel.h"
#include "agent/pipeline.h"
#include "parsers/ecs/json_writer.h"
#include "tests/agent/replay_harness.h"

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every key of `j` as a dotted path; an array's objects are `name[]`.
void flatten(const nlohmann::json& j, const std::string& prefix, std::set<std::string>& out) {
    for (const auto& [key, value] : j.items()) {
        const std::string path = prefix.empty() ? key : prefix + "." + key;
        if (value.is_object()) {
            flatten(value, path, out);
        } else if (value.is_array() && !value.empty() && value.front().is_object()) {
            for (const auto& item : value) flatten(item, path + "[]", out);
        } else if (value.is_array() && value.empty()) {
            out.insert(path + "[]");  // a list of objects that has none now (skewed_nodes)
        } else {
            out.insert(path);
        }
    }
}

// `a.{b,c}.{d}` -> a.b.d, a.c.d.
void expand(const std::string& pattern, std::set<std::string>& out) {
    const auto open = pattern.find('{');
    if (open == std::string::npos) {
        out.insert(pattern);
        return;
    }
    const auto close = pattern.find('}', open);
    REQUIRE(close != std::string::npos);
    std::stringstream alternatives(pattern.substr(open + 1, close - open - 1));
    std::string alt;
    while (std::getline(alternatives, alt, ',')) {
        expand(pattern.substr(0, open) + alt + pattern.substr(close + 1), out);
    }
}

// The keys docs/operations.md's stats table names: the code spans of each row's first cell.
std::set<std::string> documented_keys() {
    const std::string doc = read_file(SCANWATCH_SOURCE_DIR "/docs/operations.md");
    const auto start = doc.find("## Stats");
    REQUIRE(start != std::string::npos);
    const auto end = doc.find("\n## ", start + 1);
    std::istringstream section(doc.substr(start, end - start));
    std::set<std::string> keys;
    static const std::regex span("`([^`]+)`");
    std::string line;
    while (std::getline(section, line)) {
        if (line.rfind("| ", 0) != 0 || line.rfind("| key", 0) == 0) continue;
        const std::string cell = line.substr(1, line.find('|', 1) - 1);
        for (std::sregex_iterator it(cell.begin(), cell.end(), span), stop; it != stop; ++it) {
            expand((*it)[1].str(), keys);
        }
    }
    return keys;
}

// The stats line as the agent writes it: a pipeline's (one rule, events seen; one host, or a
// collector, whose node keys only a collector writes), one output's (key: its spec, SPEC in the
// docs) and the metrics server's counters (written when --metrics is on).
nlohmann::json full_stats(bool collector) {
    scanwatch::agent::PipelineOptions options;
    options.rules = {scanwatch::test::builtin_rule()};
    options.collector = collector;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    std::string stats;
    {
        scanwatch::agent::Diagnostics diagnostics(devnull);
        scanwatch::agent::Pipeline pipeline(options, [](const scanwatch::rules::Alert&) {}, {},
                                            diagnostics);
        pipeline.begin_source("-");
        pipeline.feed(read_file(SCANWATCH_SOURCE_DIR "/samples/ping_sweep.enriched.log"));
        pipeline.finish();
        stats = pipeline.stats_json();
    }
    std::fclose(devnull);
    nlohmann::json j = nlohmann::json::parse(stats);

    std::vector<std::unique_ptr<scanwatch::agent::Output>> outputs;
    outputs.push_back(scanwatch::agent::make_output(scanwatch::agent::OutputSpec{}));
    scanwatch::agent::OutputWriter writer(std::move(outputs), false);
    std::string text;
    scanwatch::JsonWriter w(text);
    w.begin_object();
    writer.stats_fields(w);
    w.end_object();
    j["outputs"] = nlohmann::json::parse(text);

    const scanwatch::agent::MetricsServerCounters server;
    scanwatch::parsers::for_each_counter(server, scanwatch::agent::kMetricsServerCounterFields,
                                         [&j](std::string_view name, std::uint64_t value) {
                                             j["metrics"][std::string(name)] = value;
                                         });
    return j;
}

// `outputs.-.written` -> `outputs.SPEC.written`.
std::string spec_key(const std::string& k) {
    return k.rfind("outputs.-.", 0) == 0 ? "outputs.SPEC." + k.substr(10) : k;
}

// The keys the stats line has, one-host and collector.
std::set<std::string> stats_keys() {
    std::set<std::string> keys;
    for (const bool collector : {false, true}) {
        std::set<std::string> flat;
        flatten(full_stats(collector), "", flat);
        for (const auto& k : flat) keys.insert(spec_key(k));
    }
    keys.erase("type");
    return keys;
}

}  // namespace

TEST_CASE("Stats: docs/operations.md lists every key the stats write, and no other", "[stats]") {
    const std::set<std::string> documented = documented_keys();
    const std::set<std::string> written = stats_keys();
    // Sanity: both sides hold counters from every registry table and the hand-written rest.
    for (const auto& f : scanwatch::parsers::kFilterCounterFields) CHECK(written.count(std::string(f.name)));
    for (const auto& f : scanwatch::parsers::kNormalizerCounterFields) CHECK(written.count(std::string(f.name)));
    for (const auto& f : scanwatch::rules::kRuleCounterFields) {
        CHECK(written.count("rules[]." + std::string(f.name)));
    }
    for (const auto member : scanwatch::rules::kRuleCounterSums) {
        CHECK(written.count(std::string(scanwatch::rules::rule_counter_name(member))));
    }
    CHECK(written.count("last_event_time"));
    CHECK(written.count("outputs.SPEC.written"));
    for (const auto& key : written) {
        INFO("written but not in docs/operations.md's stats table: " << key);
        CHECK(documented.count(key) == 1);
    }
    for (const auto& key : documented) {
        INFO("in docs/operations.md's stats table but not written: " << key);
        CHECK(written.count(key) == 1);
    }
}

namespace {

// The descriptor of a stats key (`malformed.garbage` falls to `malformed.*`), or null.
const scanwatch::agent::MetricDescriptor* descriptor_of(const std::string& key) {
    const scanwatch::agent::MetricDescriptor* wildcard = nullptr;
    for (std::size_t i = 0; i < scanwatch::agent::kMetricDescriptorCount; ++i) {
        const auto& d = scanwatch::agent::kMetricDescriptors[i];
        if (d.key == key) return &d;
        if (d.key.size() > 2 && d.key.substr(d.key.size() - 2) == ".*" &&
            key.rfind(std::string(d.key.substr(0, d.key.size() - 1)), 0) == 0) {
            wildcard = &d;
        }
    }
    return wildcard;
}

// Whether `page` has a sample of `name`: a line that starts with it and a label set or a space.
bool has_sample(const std::string& page, std::string_view name) {
    std::istringstream lines(page);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(std::string(name), 0) != 0 || line.size() <= name.size()) continue;
        if (line[name.size()] == '{' || line[name.size()] == ' ') return true;
    }
    return false;
}

}  // namespace

TEST_CASE("Metrics: every stats key is a series of the metrics page, and no other", "[stats][metrics]") {
    const std::set<std::string> written = stats_keys();
    for (const auto& key : written) {
        INFO("stats key without a series in agent/metrics/metrics_page.cpp: " << key);
        if (key == "skewed_nodes[]") {  // an empty list now: its members are described
            CHECK(descriptor_of("skewed_nodes[].skew_ms") != nullptr);
            continue;
        }
        CHECK(descriptor_of(key) != nullptr);
    }
    for (std::size_t i = 0; i < scanwatch::agent::kMetricDescriptorCount; ++i) {
        const std::string key(scanwatch::agent::kMetricDescriptors[i].key);
        INFO("metric descriptor of no stats key: " << key);
        if (key == "malformed.*") {
            CHECK(written.count("malformed.garbage") == 1);
        } else if (key.rfind("skewed_nodes[].", 0) == 0) {
            CHECK(written.count("skewed_nodes[]") == 1);
        } else {
            CHECK(written.count(key) == 1);
        }
    }
    // Every key the collector's stats hold now has its sample on the page (labels aside).
    const nlohmann::json stats = full_stats(true);
    const std::string page = scanwatch::agent::render_metrics(stats, {"1.2.3", 1.0, 2.0});
    std::set<std::string> flat;
    flatten(stats, "", flat);
    for (const auto& k : flat) {
        const std::string key = spec_key(k);
        if (key == "type" || key == "skewed_nodes[]") continue;
        const auto* d = descriptor_of(key);
        REQUIRE(d != nullptr);
        if (d->type == scanwatch::agent::MetricType::label) continue;
        INFO("no sample for " << key << " (" << d->name << ") on the page:\n" << page);
        CHECK(has_sample(page, d->name));
        CHECK(page.find("# HELP " + std::string(d->name) + " ") != std::string::npos);
    }
}
