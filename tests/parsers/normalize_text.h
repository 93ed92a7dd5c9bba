#pragma once
// Test helper: audit text in, ECS events out, through the real filter, auparse and normalizer.

#include <string>
#include <string_view>
#include <vector>

#include "parsers/auparse_feed.h"
#include "parsers/execve_normalizer.h"
#include "parsers/record_filter.h"

namespace scanwatch::test {

struct Normalized {
    std::vector<ProcessEvent> events;
    parsers::FilterCounters filter;
    parsers::NormalizerCounters normalizer;
    std::uint64_t audit_events = 0;  ///< events auparse completed (execs or not)
};

inline Normalized normalize_text(std::string_view text, parsers::NormalizerOptions options = {},
                                 std::size_t chunk = 4096, bool project_syscalls = true) {
    Normalized out;
    if (options.host_id.empty()) options.host_id = "test-host-id";
    if (options.host_name.empty()) options.host_name = "test-host";
    parsers::ExecveNormalizer normalizer(options,
                                         [&](const ProcessEvent& e) { out.events.push_back(e); });
    parsers::AuparseFeed feed([&](auparse_state_t* au) {
        ++out.audit_events;
        normalizer.on_event(au);
    });
    parsers::RecordFilter filter([&](std::string_view records) { feed.feed(records); }, {});
    filter.project_syscalls(project_syscalls);
    for (std::size_t i = 0; i < text.size(); i += chunk) filter.feed(text.substr(i, chunk));
    filter.finish();
    feed.flush();
    out.filter = filter.counters();
    out.normalizer = normalizer.counters();
    return out;
}

}  // namespace scanwatch::test
