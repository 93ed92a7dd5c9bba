#include "agent/session.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "agent/host_identity.h"
#include "agent/outputs/safe_open.h"
#include "agent/tool_inodes.h"
#include "parsers/ecs/ecs_json.h"
#include "rules/ruleset/load_report.h"

namespace scanwatch::agent {

namespace {

// Loads the configured rules; an error stops the start (thrown) and is only reported on reload.
std::vector<std::shared_ptr<const rules::RuleDefinition>> configured_rules(const Settings& s,
                                                                          Diagnostics& diagnostics) {
    rules::LoadResult loaded = rules::load_rule_sources(rule_sources(s));
    const rules::LoadReport report = rules::load_report(loaded, s.verbose);
    std::string errors;
    for (const auto& f : report.shown) {
        if (f.severity == rules::Severity::warning) {
            diagnostics.warn(f.to_string());
        } else {
            errors += (errors.empty() ? "" : "\n") + f.to_string();
        }
    }
    if (!errors.empty()) throw std::runtime_error(errors);
    if (!report.summary.empty()) diagnostics.warn(report.summary);
    return std::move(loaded.rules);
}

}  // namespace

PipelineOptions pipeline_options(const Settings& s, Input input) {
    const bool live = input != Input::replay;
    PipelineOptions o;
    o.events_end_with_eoe = input == Input::dispatcher;
    o.normalizer.host_id = s.host_id.empty() ? local_machine_id() : s.host_id;
    o.normalizer.host_name = s.host_name.empty() ? local_hostname() : s.host_name;
    o.normalizer.max_processes = s.max_processes;
    o.normalizer.lookup_names = live;
    o.engine = engine_options(s);
    o.collector = s.collector;
    o.max_nodes = s.max_nodes;
    o.node_max_groups = s.node_max_groups;
    o.live_clock = live;
    return o;
}

// Hard links of the rules' tools, stat'ed on this machine: only where the log is this
// machine's (never a replay, never a collector's other nodes) and the name match is `any`
// (never --profile elastic).
void Session::match_tool_inodes(
    const Settings& s, const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules) {
    if (input_ == Input::replay || s.collector ||
        engine_options(s).name_match != rules::NameMatch::any) {
        pipeline_->set_tool_inodes(nullptr);
        return;
    }
    pipeline_->set_tool_inodes(std::make_shared<const parsers::ToolInodes>(find_tool_inodes(
        rule_tool_names(rules), s.tool_path.empty() ? default_tool_folders() : s.tool_path)));
}

Session::Session(const Settings& s, Input input) : stats_file_(s.stats_file), input_(input) {
    const bool threaded_outputs = input == Input::dispatcher;
    const OutputReport report = [this](const std::string& message) { diagnostics_.warn(message); };
    std::vector<std::unique_ptr<Output>> alert_outputs;
    for (const auto& spec : s.outputs) alert_outputs.push_back(make_output(spec));
    alerts_ = std::make_unique<OutputWriter>(std::move(alert_outputs), threaded_outputs, report);
    if (s.events) {
        std::vector<std::unique_ptr<Output>> event_outputs;
        event_outputs.push_back(make_output(*s.events, false));
        events_ = std::make_unique<OutputWriter>(std::move(event_outputs), threaded_outputs, report);
    }
    Pipeline::EventSink event_sink;
    if (events_) {
        // One buffer for every event line: inline outputs write it without a copy.
        event_sink = [this, line = std::string()](const ProcessEvent& e) mutable {
            line.clear();
            append_event_json(line, e);
            events_->submit_view(line);
        };
    }
    PipelineOptions options = pipeline_options(s, input);
    if (options.normalizer.host_id.empty()) {
        // Without a host id no event has an entity id and no rule grouping by host.id can fire:
        // a container or a minimal root without /etc/machine-id must not go blind.
        options.normalizer.host_id =
            options.normalizer.host_name.empty() ? "localhost" : options.normalizer.host_name;
        diagnostics_.warn(fmt::format(
            "no /etc/machine-id: host.id of records without node= is \"{}\" (set --host-id)",
            options.normalizer.host_id));
    }
    options.rules = configured_rules(s, diagnostics_);
    const auto rules = options.rules;
    pipeline_ = std::make_unique<Pipeline>(
        std::move(options),
        [this](const rules::Alert& a) {
            const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            alerts_->submit(rules::alert_to_json(a, static_cast<std::int64_t>(now_ms)));
        },
        std::move(event_sink), diagnostics_);
    match_tool_inodes(s, rules);
}

Session::~Session() { close(); }

bool Session::reload(const Settings& s) {
    bool rules_loaded = true;
    try {
        auto rules = configured_rules(s, diagnostics_);
        match_tool_inodes(s, rules);
        pipeline_->set_rules(std::move(rules), engine_options(s));
    } catch (const std::runtime_error& e) {
        diagnostics_.warn(fmt::format("the new rules do not load; the running rules stay:\n{}", e.what()));
        rules_loaded = false;
    }
    alerts_->reopen();
    if (events_) events_->reopen();
    return rules_loaded;
}

std::string Session::stats_json() const {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.field("type", "stats");
    pipeline_->stats_fields(w);
    w.key("outputs");
    w.begin_object();
    alerts_->stats_fields(w);
    if (events_) events_->stats_fields(w, "events:");
    w.end_object();
    if (extra_stats_) extra_stats_(w);
    w.end_object();
    return out;
}

void Session::report_stats(bool to_stderr) {
    const std::string line = stats_json() + "\n";
    if (to_stderr) {
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
    }
    if (!stats_file_.empty()) {
        // Appended as root like an output: the same refusal of planted symlinks (safe_open.h).
        std::string error;
        const int fd = open_for_append(stats_file_, error);
        std::FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "a");
        if (f == nullptr) {
            if (fd >= 0) ::close(fd);
            diagnostics_.warn(error.empty() ? fmt::format("cannot open {}: {}", stats_file_,
                                                          std::strerror(errno))
                                            : error);
            return;
        }
        std::fputs(line.c_str(), f);
        std::fclose(f);
    }
}

void Session::flush_outputs() {
    alerts_->flush();
    if (events_) events_->flush();
}

void Session::close() {
    alerts_->close();
    if (events_) events_->close();
}

bool Session::output_failures() const {
    return alerts_->had_failures() || (events_ && events_->had_failures());
}

}  // namespace scanwatch::agent
