#pragma once
// The /metrics page (docs/operations.md, "Metrics"): the stats line (docs/operations.md, "Stats")
// rendered in Prometheus's text exposition format 0.0.4. The page is made from the stats JSON, which
// the counter tables write, so the stats, their docs table and the metrics cannot drift apart:
// kMetricDescriptors names a series for every stats key, and a test checks it both ways.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace scanwatch::agent {

/// How a stats key becomes a series.
enum class MetricType {
    counter,  ///< monotonic: `# TYPE counter`, the name ends in `_total`
    gauge,    ///< may go down
    label,    ///< not a series: a label of the other keys of its array (rules[].name -> rule="...")
};

/// One stats key and its series. `key` is spelled as in the stats docs table: `bytes`,
/// `malformed.garbage`, `rules[].alerts` (one sample per rule, labelled by the array's label
/// keys), `outputs.SPEC.written` (one per output, output="SPEC"). `malformed.*` stands for
/// every member of that object not named otherwise, labelled `reason`.
struct MetricDescriptor {
    std::string_view key;
    std::string_view name;  ///< the series name; for a label, the label's name
    MetricType type;
    std::string_view help;
    double scale = 1;  ///< the value is multiplied by it (ms -> seconds, KiB -> bytes)
};

/// Every stats key, in page order; keys of one series are adjacent.
extern const MetricDescriptor kMetricDescriptors[];
extern const std::size_t kMetricDescriptorCount;

/// What the page says beside the stats.
struct MetricsProcess {
    std::string version;       ///< scanwatch_build_info{version=...}
    double start_time_s = 0;   ///< process_start_time_seconds (Unix time)
    double uptime_s = 0;       ///< scanwatch_uptime_seconds
};

/// The page for `stats` (Session::stats_json() parsed). Keys the stats lack now (lag before the
/// first event, collector-only keys) give no sample; their HELP and TYPE are written all the same.
std::string render_metrics(const nlohmann::json& stats, const MetricsProcess& process);

/// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
/// A HELP text escaped for the text format: backslash and newline.
std::string escape_help(std::string_view text);

}  // namespace scanwatch::agent
