#include <catch2/catch.hpp>

#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/metrics/metrics_address.h"
#include "agent/metrics/metrics_page.h"
#include "agent/metrics/progress.h"

using scanwatch::agent::MetricType;

namespace {

// A stats line shaped as Session::stats_json() writes it, with names that need escaping.
nlohmann::json sample_stats() {
    return nlohmann::json::parse(R"({
        "type": "stats", "bytes": 1234, "lines": 10,
        "malformed": {"total": 3, "garbage": 2, "too_long": 1},
        "rules": [
            {"rule_id": "id-1", "name": "Scan \"quoted\" \\ back\nslash", "alerts": 2, "groups": 1},
            {"rule_id": "id-2", "name": "Other", "alerts": 0, "groups": 0}
        ],
        "alerts": 2, "last_event_time": "2026-12-06T07:04:49.250Z", "lag_ms": 1500,
        "max_rss_kb": 2048,
        "outputs": {"-": {"written": 2, "failed": 0, "lost": 0, "backlog": 0},
                    "events:file:/tmp/e.ndjson": {"written": 5, "failed": 1, "lost": 0, "backlog": 3}},
        "metrics": {"requests": 7}
    })");
}

std::set<std::string> lines_of(const std::string& page) {
    std::set<std::string> out;
    std::istringstream in(page);
    std::string line;
    while (std::getline(in, line)) out.insert(line);
    return out;
}

}  // namespace

TEST_CASE("Metrics: label values and help texts are escaped as the text format says", "[metrics]") {
    CHECK(scanwatch::agent::escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
    CHECK(scanwatch::agent::escape_label_value("plain") == "plain");
    CHECK(scanwatch::agent::escape_help("a\\b\"c\nd") == "a\\\\b\"c\\nd");
}

TEST_CASE("Metrics: the page has samples with labels, base units and build info", "[metrics]") {
    const std::string page = scanwatch::agent::render_metrics(sample_stats(), {"9.8.7", 1000.5, 42});
    const auto lines = lines_of(page);
    CHECK(lines.count("scanwatch_build_info{version=\"9.8.7\"} 1"));
    CHECK(lines.count("process_start_time_seconds 1000.5"));
    CHECK(lines.count("scanwatch_uptime_seconds 42"));
    CHECK(lines.count("# TYPE scanwatch_bytes_total counter"));
    CHECK(lines.count("scanwatch_bytes_total 1234"));
    CHECK(lines.count("scanwatch_malformed_total 3"));
    CHECK(lines.count("scanwatch_malformed_lines_total{reason=\"garbage\"} 2"));
    CHECK(lines.count("scanwatch_malformed_lines_total{reason=\"too_long\"} 1"));
    CHECK_FALSE(lines.count("scanwatch_malformed_lines_total{reason=\"total\"} 3"));
    CHECK(lines.count(
        "scanwatch_rule_alerts_total{rule_id=\"id-1\",rule=\"Scan \\\"quoted\\\" \\\\ back\\nslash\"} 2"));
    CHECK(lines.count("scanwatch_rule_alerts_total{rule_id=\"id-2\",rule=\"Other\"} 0"));
    CHECK(lines.count("# TYPE scanwatch_rule_groups gauge"));
    CHECK(lines.count("scanwatch_input_lag_seconds 1.5"));
    CHECK(lines.count("scanwatch_last_event_timestamp_seconds 1796540689.25"));
    CHECK(lines.count("scanwatch_max_rss_bytes 2097152"));
    CHECK(lines.count("scanwatch_output_written_total{output=\"-\"} 2"));
    CHECK(lines.count("scanwatch_output_backlog{output=\"events:file:/tmp/e.ndjson\"} 3"));
    CHECK(lines.count("scanwatch_metrics_requests_total 7"));
    // Keys the stats lack now give no sample, but the series is still described.
    CHECK(lines.count("# TYPE scanwatch_nodes gauge"));
    CHECK(page.find("\nscanwatch_nodes ") == std::string::npos);
}

TEST_CASE("Metrics: every series has HELP and TYPE once, counters end in _total", "[metrics]") {
    std::set<std::string> seen;
    std::string_view previous;
    for (std::size_t i = 0; i < scanwatch::agent::kMetricDescriptorCount; ++i) {
        const auto& d = scanwatch::agent::kMetricDescriptors[i];
        INFO(d.key);
        if (d.type == MetricType::label) continue;
        CHECK(d.name.rfind("scanwatch_", 0) == 0);
        const bool total = d.name.size() > 6 && d.name.substr(d.name.size() - 6) == "_total";
        CHECK(total == (d.type == MetricType::counter));
        CHECK_FALSE(d.help.empty());
        // The keys of one series are adjacent: a family is written as one block.
        if (d.name != previous) CHECK(seen.insert(std::string(d.name)).second);
        previous = d.name;
    }
    const std::string page = scanwatch::agent::render_metrics(sample_stats(), {"1", 0, 0});
    for (const auto& name : seen) {
        INFO(name);
        std::size_t helps = 0;
        for (auto at = page.find("# HELP " + name + " "); at != std::string::npos;
             at = page.find("# HELP " + name + " ", at + 1)) {
            ++helps;
        }
        CHECK(helps == 1);
        CHECK(page.find("# TYPE " + name + " ") != std::string::npos);
    }
}

TEST_CASE("Metrics: --metrics takes a numeric address and a port", "[metrics]") {
    std::string error;
    auto a = scanwatch::agent::parse_metrics_address("127.0.0.1:9464", error);
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 9464);
    a = scanwatch::agent::parse_metrics_address("[::1]:0", error);
    REQUIRE(a);
    CHECK(a->host == "::1");
    CHECK(scanwatch::agent::to_string(*a) == "[::1]:0");
    a = scanwatch::agent::parse_metrics_address(":9464", error);
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    for (const char* bad : {"9464", "localhost:9464", "127.0.0.1:", "127.0.0.1:65536",
                            "127.0.0.1:x", "::1:9464", "1.2.3.4:-1"}) {
        INFO(bad);
        error.clear();
        CHECK_FALSE(scanwatch::agent::parse_metrics_address(bad, error));
        CHECK(error.find(bad) != std::string::npos);
    }
}

TEST_CASE("Progress: the line says bytes, files, rate, events and alerts", "[progress]") {
    std::FILE* devnull = std::fopen("/dev/null", "w");
    REQUIRE(devnull);
    {
        scanwatch::agent::ProgressLine line(devnull, 4'000'000, 3, [] {
            return scanwatch::agent::ProgressCounts{120, 4};
        });
        line.next_file();
        line.read(1'000'000);
        CHECK(line.text(std::chrono::seconds(2)) ==
              "scanwatch: 1.0 MB of 4.0 MB (25%), file 1 of 3, 0.5 MB/s, 120 events, 4 alerts");
        scanwatch::agent::ProgressLine unknown(devnull, 0, 1, nullptr);
        unknown.read(2'500'000);
        CHECK(unknown.text(std::chrono::seconds(1)) ==
              "scanwatch: 2.5 MB, file 0 of 1, 2.5 MB/s, 0 events, 0 alerts");
    }
    std::fclose(devnull);
    CHECK_FALSE(scanwatch::agent::ProgressLine::wanted(-1, false));
}
