// libFuzzer target for the byte pipeline: RecordFilter -> AuparseFeed -> ExecveNormalizer -> the
// built-in rule, through agent::Pipeline as every mode wires it. The input is raw audit text.
// It is fed once whole and once in chunks whose sizes come from the input's own hash; both
// must give the same events, alerts and counters (docs/events.md: chunking is irrelevant).
// A third pipeline reads it as auditd's dispatcher stream (PROCTITLE skipping) for crashes.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agent/pipeline.h"
#include "parsers/ecs/ecs_json.h"
#include "rules/alert.h"
#include "rules/rule.h"

namespace {

using namespace scanwatch;

struct Output {
    std::vector<std::string> lines;  // events and alerts in the order the sinks saw them
    std::string stats;
};

std::shared_ptr<const rules::RuleDefinition> builtin() {
    static const auto rule = std::get<std::shared_ptr<const rules::RuleDefinition>>(
        rules::load_rule(rules::builtin_rule_text(), "built-in"));
    return rule;
}

agent::Diagnostics& quiet() {
    static agent::Diagnostics diagnostics(std::fopen("/dev/null", "w"));
    return diagnostics;
}

// The stats without what depends on the clock or the process (lag, RSS).
std::string stable_stats(const agent::Pipeline& pipeline) {
    std::string s = pipeline.stats_json();
    for (std::string_view cut : {",\"last_event_time\"", ",\"max_rss_kb\""}) {
        const std::size_t at = s.find(cut);
        if (at != std::string::npos) s.resize(at);
    }
    return s;
}

std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t h = 1469598103934665603ULL;
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

// chunk_seed 0: fed whole; otherwise in chunks of 1..97 bytes drawn from the seed.
Output run(std::string_view text, std::uint64_t chunk_seed, bool dispatcher) {
    Output out;
    agent::PipelineOptions options;
    options.normalizer.host_id = "fuzz-host-id";
    options.normalizer.host_name = "fuzz-host";
    options.events_end_with_eoe = dispatcher;
    options.rules = {builtin()};
    agent::Pipeline pipeline(
        options, [&](const rules::Alert& a) { out.lines.push_back(rules::alert_to_json(a, 0)); },
        dispatcher ? agent::Pipeline::EventSink{}
                   : agent::Pipeline::EventSink([&](const ProcessEvent& e) {
                         std::string line;
                         append_event_json(line, e);
                         out.lines.push_back(std::move(line));
                     }),
        quiet());
    pipeline.begin_source("fuzz");
    if (chunk_seed == 0) {
        pipeline.feed(text);
    } else {
        std::uint64_t state = chunk_seed;
        while (!text.empty()) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            const std::size_t n = std::min<std::size_t>(text.size(), 1 + (state >> 33U) % 97);
            pipeline.feed(text.substr(0, n));
            text.remove_prefix(n);
        }
    }
    pipeline.finish();
    out.stats = stable_stats(pipeline);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const Output whole = run(text, 0, false);
    const Output chunked = run(text, fnv1a(text) | 1U, false);
    if (whole.lines != chunked.lines || whole.stats != chunked.stats) {
        std::fprintf(stderr, "whole and chunked feeds differ\nwhole stats:   %s\nchunked stats: %s\n",
                     whole.stats.c_str(), chunked.stats.c_str());
        const std::size_t n = std::max(whole.lines.size(), chunked.lines.size());
        for (std::size_t i = 0; i < n; ++i) {
            const char* w = i < whole.lines.size() ? whole.lines[i].c_str() : "(none)";
            const char* c = i < chunked.lines.size() ? chunked.lines[i].c_str() : "(none)";
            if (i >= whole.lines.size() || i >= chunked.lines.size() ||
                whole.lines[i] != chunked.lines[i]) {
                std::fprintf(stderr, "line %zu\n whole:   %s\n chunked: %s\n", i, w, c);
                break;
            }
        }
        std::abort();
    }
    run(text, fnv1a(text) | 1U, true);
    return 0;
}
