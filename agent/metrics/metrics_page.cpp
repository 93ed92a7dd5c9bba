#include "agent/metrics/metrics_page.h"

#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace scanwatch::agent {

namespace {
constexpr MetricType C = MetricType::counter;
constexpr MetricType G = MetricType::gauge;
constexpr MetricType L = MetricType::label;
}  // namespace

// The meanings are docs/operations.md's stats table, shortened; the names follow Prometheus's
// conventions (base units, `_total` on counters).
const MetricDescriptor kMetricDescriptors[] = {
    {"bytes", "scanwatch_bytes_total", C, "Input bytes read."},
    {"lines", "scanwatch_lines_total", C, "Input lines read."},
    {"records", "scanwatch_records_total", C, "Well-formed audit records read."},
    {"records_parsed", "scanwatch_records_parsed_total", C, "Records handed to auparse."},
    {"records_skipped", "scanwatch_records_skipped_total", C, "Records dropped as unable to matter."},
    {"proctitles_skipped", "scanwatch_proctitles_skipped_total", C,
     "Of the records skipped, PROCTITLE records nothing reads."},
    {"proctitles_as_eoe", "scanwatch_proctitles_as_eoe_total", C,
     "Of the records handed to auparse, PROCTITLE records nothing reads, handed on as an EOE record."},
    {"proctitles_flushed", "scanwatch_proctitles_flushed_total", C,
     "PROCTITLE records nothing reads that ended the only event of their node in flight at once."},
    {"records_of_skipped_events", "scanwatch_records_of_skipped_events_total", C,
     "Of the records skipped, CWD, EXECVE, PROCTITLE and EOE records of an event whose SYSCALL was skipped."},
    {"ignored_lines", "scanwatch_ignored_lines_total", C,
     "Blank lines, comments and ausearch separators."},
    {"events_ended_early", "scanwatch_events_ended_early_total", C,
     "Events in flight ended past the bounds on events in flight."},
    {"events_ended_aged", "scanwatch_events_ended_aged_total", C,
     "Events still in flight a few seconds after arrival, ended (live modes)."},
    {"network_syscalls", "scanwatch_network_syscalls_total", C,
     "connect and socket SYSCALL records handed to auparse."},
    {"sockets_other_family", "scanwatch_sockets_other_family_total", C,
     "socket() calls of a family other than inet, inet6 and packet, skipped."},
    {"sockaddrs_other_family", "scanwatch_sockaddrs_other_family_total", C,
     "connect SOCKADDR records of a family other than inet and inet6, skipped."},
    {"malformed.total", "scanwatch_malformed_total", C, "Malformed input lines, all reasons."},
    {"malformed.*", "scanwatch_malformed_lines_total", C, "Malformed input lines by reason."},
    {"events", "scanwatch_events_total", C, "Audit events auparse completed."},
    {"execs", "scanwatch_execs_total", C, "Exec events made."},
    {"failed_execs", "scanwatch_failed_execs_total", C, "Of the exec events, failed execs."},
    {"execveat", "scanwatch_execveat_total", C, "Of the exec events, execveat calls."},
    {"execve_without_syscall", "scanwatch_execve_without_syscall_total", C,
     "EXECVE records whose SYSCALL record is missing."},
    {"syscall_without_execve", "scanwatch_syscall_without_execve_total", C,
     "Successful exec SYSCALL records whose EXECVE record is missing."},
    {"args_missing", "scanwatch_args_missing_total", C, "Events with fewer arguments than argc."},
    {"bad_fields", "scanwatch_bad_fields_total", C, "Numeric fields that did not parse."},
    {"bad_arg_index", "scanwatch_bad_arg_index_total", C,
     "EXECVE arguments out of order, repeated or past argc (ignored)."},
    {"args_dropped", "scanwatch_args_dropped_total", C, "Arguments past 65,536 dropped."},
    {"args_truncated", "scanwatch_args_truncated_total", C,
     "Arguments kept as a prefix and a digest."},
    {"titles_truncated", "scanwatch_titles_truncated_total", C,
     "Process titles kept as a prefix and a digest."},
    {"bad_proctitle", "scanwatch_bad_proctitle_total", C,
     "PROCTITLE values neither hex nor quoted."},
    {"bad_timestamp", "scanwatch_bad_timestamp_total", C,
     "Events dropped for a timestamp too large for milliseconds."},
    {"connects", "scanwatch_connects_total", C, "Connect events made."},
    {"connects_without_address", "scanwatch_connects_without_address_total", C,
     "connect calls without an inet or inet6 address: no event."},
    {"raw_sockets", "scanwatch_raw_sockets_total", C, "Raw and packet socket events made."},
    {"sockets_tracked", "scanwatch_sockets_tracked_total", C,
     "socket() results remembered for a later connect."},
    {"sockets_evicted", "scanwatch_sockets_evicted_total", C,
     "Remembered socket() results forgotten at the bound."},
    {"processes", "scanwatch_processes", G, "Processes held in the entity-id table."},
    {"processes_evicted", "scanwatch_processes_evicted_total", C,
     "Processes evicted from the entity-id table."},
    {"rules[].rule_id", "rule_id", L, ""},
    {"rules[].name", "rule", L, ""},
    {"rules[].matched", "scanwatch_rule_matched_total", C, "Events the rule's query matched."},
    {"rules[].excepted", "scanwatch_rule_excepted_total", C,
     "Of the events matched, those an exception matched."},
    {"rules[].missing_group_field", "scanwatch_rule_missing_group_field_total", C,
     "Of the events matched, those without a group-by value."},
    {"rules[].late", "scanwatch_rule_late_total", C,
     "Of the events matched, those older than the window."},
    {"rules[].spent", "scanwatch_rule_spent_total", C,
     "Of the events matched, those at or before their group's last alert."},
    {"rules[].alerts", "scanwatch_rule_alerts_total", C, "Alerts the rule raised."},
    {"rules[].alerts_hardening_only", "scanwatch_rule_alerts_hardening_only_total", C,
     "Of the rule's alerts, those the elastic profile would not raise."},
    {"rules[].held_back", "scanwatch_rule_held_back_total", C,
     "Alerts held back over max_signals in one interval."},
    {"rules[].groups", "scanwatch_rule_groups", G, "Groups the rule holds now."},
    {"rules[].groups_evicted", "scanwatch_rule_groups_evicted_total", C,
     "Groups still counting dropped to respect --max-groups."},
    {"rules[].values_evicted", "scanwatch_rule_values_evicted_total", C,
     "Distinct values the evicted groups held."},
    {"rules[].values_evicted_max", "scanwatch_rule_values_evicted_max", G,
     "The most distinct values one evicted group held."},
    {"rules[].truncated", "scanwatch_rule_truncated_total", C,
     "Samples, values and evidence strings cut to their byte cap."},
    {"rules[].match_work_cut", "scanwatch_rule_match_work_cut_total", C,
     "Events on which the query ran out of its matching work bound."},
    {"matched", "scanwatch_matched_total", C, "Events matched, summed over rules."},
    {"groups", "scanwatch_groups", G, "Groups held now, summed over rules."},
    {"alerts", "scanwatch_alerts_total", C, "Alerts raised, summed over rules."},
    {"alerts_hardening_only", "scanwatch_alerts_hardening_only_total", C,
     "Alerts the elastic profile would not raise, summed over rules."},
    {"held_back", "scanwatch_held_back_total", C, "Alerts held back, summed over rules."},
    {"last_event_time", "scanwatch_last_event_timestamp_seconds", G,
     "Newest event time seen (Unix time); absent before the first event."},
    {"lag_ms", "scanwatch_input_lag_seconds", G,
     "Input lag: wall clock less the newest event time seen; absent before the first event.",
     0.001},
    {"max_rss_kb", "scanwatch_max_rss_bytes", G, "Peak resident memory.", 1024},
    {"nodes_assembling", "scanwatch_nodes_assembling", G,
     "libauparse states held, one per node= name."},
    {"nodes_assembling_evicted", "scanwatch_nodes_assembling_evicted_total", C,
     "libauparse states completed and dropped past --max-nodes or idle."},
    {"records_without_node", "scanwatch_records_without_node_total", C,
     "Records handed to auparse without node=."},
    {"nodes", "scanwatch_nodes", G, "--collector: nodes with their own detection state."},
    {"nodes_evicted", "scanwatch_nodes_evicted_total", C,
     "--collector: nodes dropped past --max-nodes."},
    {"nodes_evicted_with_state", "scanwatch_nodes_evicted_with_state_total", C,
     "--collector: of the nodes dropped, those that held groups."},
    {"nodes_idle", "scanwatch_nodes_idle_total", C,
     "--collector: nodes dropped after a window idle."},
    {"skewed_nodes[].node", "node", L, ""},
    {"skewed_nodes[].skew_ms", "scanwatch_node_skew_seconds", G,
     "--collector, live modes: a skewed node's event time less its arrival (the first 20).", 0.001},
    {"nodes_skewed", "scanwatch_nodes_skewed", G,
     "--collector, live modes: nodes whose event time is over 30 s off their arrival."},
    {"outputs.SPEC.written", "scanwatch_output_written_total", C, "Lines the output wrote."},
    {"outputs.SPEC.failed", "scanwatch_output_failed_total", C, "The output's failed attempts."},
    {"outputs.SPEC.lost", "scanwatch_output_lost_total", C, "Lines the output lost."},
    {"outputs.SPEC.backlog", "scanwatch_output_backlog", G, "Lines waiting for the output."},
    {"metrics.connections", "scanwatch_metrics_connections_total", C,
     "Connections the metrics server accepted."},
    {"metrics.refused", "scanwatch_metrics_refused_total", C,
     "Connections closed at once: over the cap on concurrent connections."},
    {"metrics.requests", "scanwatch_metrics_requests_total", C, "Metrics pages served."},
    {"metrics.not_found", "scanwatch_metrics_not_found_total", C,
     "Requests for another path than /metrics (404)."},
    {"metrics.bad_method", "scanwatch_metrics_bad_method_total", C,
     "Requests for /metrics with another method than GET (405)."},
    {"metrics.bad_requests", "scanwatch_metrics_bad_requests_total", C,
     "Requests that are not HTTP (400)."},
    {"metrics.too_large", "scanwatch_metrics_too_large_total", C,
     "Requests past the size bound (431 head, 413 body)."},
    {"metrics.timed_out", "scanwatch_metrics_timed_out_total", C,
     "Connections closed at their deadline."},
};
const std::size_t kMetricDescriptorCount = std::size(kMetricDescriptors);

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string escape_help(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

namespace {

// "2026-12-06T07:04:49.123Z" -> Unix seconds; other years (written with a sign) give nothing.
std::optional<double> parse_timestamp(const std::string& text) {
    std::tm tm{};
    int millis = 0;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis, &consumed) != 7 ||
        static_cast<std::size_t>(consumed) != text.size()) {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + millis / 1000.0;
}

std::optional<double> sample_value(const nlohmann::json& value, double scale) {
    if (value.is_string()) return parse_timestamp(value.get<std::string>());
    if (!value.is_number()) return std::nullopt;
    if (scale == 1 && value.is_number_unsigned()) {
        return static_cast<double>(value.get<std::uint64_t>());
    }
    return value.get<double>() * scale;
}

// Integers as integers (a double of 2^53 and more is written in full, not as 9.0072e+15).
std::string format_value(double v) {
    if (v == static_cast<double>(static_cast<std::int64_t>(v)) && v < 9.2e18 && v > -9.2e18) {
        return fmt::format("{}", static_cast<std::int64_t>(v));
    }
    return fmt::format("{}", v);
}

struct Label {
    std::string_view name;
    std::string value;
};

// `{a="x",b="y"}`, escaped; empty without labels.
std::string label_set(const std::vector<Label>& labels) {
    if (labels.empty()) return {};
    std::string out = "{";
    for (const auto& l : labels) {
        if (out.size() > 1) out += ',';
        out += l.name;
        out += "=\"";
        out += escape_label_value(l.value);
        out += '"';
    }
    out += '}';
    return out;
}

void sample(std::string& out, std::string_view name, std::string_view labels, double v) {
    out += name;
    out += labels;
    out += ' ';
    out += format_value(v);
    out += '\n';
}

void sample(std::string& out, std::string_view name, const std::vector<Label>& labels, double v) {
    sample(out, name, label_set(labels), v);
}

void sample_if(std::string& out, std::string_view name, std::string_view labels,
               const nlohmann::json* value, double scale) {
    if (value == nullptr) return;
    if (const auto v = sample_value(*value, scale)) sample(out, name, labels, *v);
}

void sample_if(std::string& out, std::string_view name, const std::vector<Label>& labels,
               const nlohmann::json* value, double scale) {
    sample_if(out, name, label_set(labels), value, scale);
}

const nlohmann::json* member(const nlohmann::json& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(std::string(key));
    return it == object.end() ? nullptr : &*it;
}

// A descriptor named in full elsewhere (`malformed.total`) is not also a `malformed.*` reason.
bool named_exactly(std::string_view key) {
    for (const auto& d : kMetricDescriptors) {
        if (d.key == key) return true;
    }
    return false;
}

// The labels of one element of the array `array_key` ("rules"): its label descriptors.
std::vector<Label> element_labels(std::string_view array_key, const nlohmann::json& element) {
    std::vector<Label> labels;
    const std::string prefix = std::string(array_key) + "[].";
    for (const auto& d : kMetricDescriptors) {
        if (d.type != MetricType::label || d.key.rfind(prefix, 0) != 0) continue;
        const nlohmann::json* v = member(element, d.key.substr(prefix.size()));
        std::string text;
        if (v != nullptr) text = v->is_string() ? v->get<std::string>() : v->dump();
        labels.push_back({d.name, std::move(text)});
    }
    return labels;
}

// Each array's labels, made once per page (rules[] has a sample per rule for each of its keys).
using LabelCache = std::map<std::string_view, std::vector<std::string>>;

void render_samples(std::string& out, const MetricDescriptor& d, const nlohmann::json& stats,
                    LabelCache& labels) {
    const std::string_view key = d.key;
    if (const auto brackets = key.find("[]."); brackets != std::string_view::npos) {
        const std::string_view array_key = key.substr(0, brackets);
        const nlohmann::json* array = member(stats, array_key);
        if (array == nullptr || !array->is_array()) return;
        auto cached = labels.find(array_key);
        if (cached == labels.end()) {
            std::vector<std::string> made;
            for (const auto& element : *array) {
                made.push_back(label_set(element_labels(array_key, element)));
            }
            cached = labels.emplace(array_key, std::move(made)).first;
        }
        std::size_t i = 0;
        for (const auto& element : *array) {
            sample_if(out, d.name, cached->second[i++], member(element, key.substr(brackets + 3)),
                      d.scale);
        }
        return;
    }
    if (key.rfind("outputs.SPEC.", 0) == 0) {
        const nlohmann::json* outputs = member(stats, "outputs");
        if (outputs == nullptr || !outputs->is_object()) return;
        for (const auto& [spec, counts] : outputs->items()) {
            sample_if(out, d.name, std::vector<Label>{{"output", spec}}, member(counts, key.substr(13)), d.scale);
        }
        return;
    }
    const auto dot = key.find('.');
    if (dot == std::string_view::npos) {
        sample_if(out, d.name, std::string_view(), member(stats, key), d.scale);
        return;
    }
    const nlohmann::json* object = member(stats, key.substr(0, dot));
    if (object == nullptr) return;
    const std::string_view field = key.substr(dot + 1);
    if (field != "*") {
        sample_if(out, d.name, std::string_view(), member(*object, field), d.scale);
        return;
    }
    for (const auto& [name, value] : object->items()) {
        if (named_exactly(std::string(key.substr(0, dot + 1)) + name)) continue;
        sample_if(out, d.name, std::vector<Label>{{"reason", name}}, &value, d.scale);
    }
}

void family_header(std::string& out, std::string_view name, std::string_view help, MetricType type) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += escape_help(help);
    out += "\n# TYPE ";
    out += name;
    out += type == MetricType::counter ? " counter\n" : " gauge\n";
}

}  // namespace

std::string render_metrics(const nlohmann::json& stats, const MetricsProcess& process) {
    std::string out;
    out.reserve(16 * 1024);
    family_header(out, "scanwatch_build_info", "The scanwatch version running (the value is 1).",
                  MetricType::gauge);
    sample(out, "scanwatch_build_info", std::vector<Label>{{"version", process.version}}, 1);
    family_header(out, "process_start_time_seconds", "Start time of the process (Unix time).",
                  MetricType::gauge);
    sample(out, "process_start_time_seconds", std::string_view(), process.start_time_s);
    family_header(out, "scanwatch_uptime_seconds", "Seconds since the process started.",
                  MetricType::gauge);
    sample(out, "scanwatch_uptime_seconds", std::string_view(), process.uptime_s);
    std::string_view family;
    LabelCache labels;
    for (const auto& d : kMetricDescriptors) {
        if (d.type == MetricType::label) continue;
        if (d.name != family) {
            family = d.name;
            family_header(out, d.name, d.help, d.type);
        }
        render_samples(out, d, stats, labels);
    }
    return out;
}

}  // namespace scanwatch::agent
