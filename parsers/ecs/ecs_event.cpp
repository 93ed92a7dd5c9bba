#include "parsers/ecs/ecs_event.h"

#include <algorithm>
#include <ctime>
#include <limits>

#include <fmt/compile.h>
#include <fmt/format.h>

namespace scanwatch {

std::string ProcessEvent::command_line() const {
    std::string out;
    for (const auto& arg : args) {
        if (!out.empty() || &arg != &args.front()) out += ' ';
        out += arg;
    }
    return out;
}

std::string ProcessEvent::parent_command_line() const {
    std::string out(parent_args);
    if (!out.empty()) out.pop_back();  // the last argument's terminator
    std::replace(out.begin(), out.end(), '\0', ' ');
    return out;
}

std::string ProcessEvent::event_id() const {
    return fmt::format("{}.{:03}:{}", time_ms / 1000, time_ms % 1000, serial);
}

void NetworkFields::clear() {
    destination_ip.clear();
    destination_port = -1;
    transport.clear();
    type.clear();
    socket_family.clear();
    socket_type.clear();
    exit = 0;
    outcome.clear();
}

void ProcessEvent::clear() {
    kind = EventKind::exec;
    network.clear();
    time_ms = 0;
    serial = 0;
    host_id.clear();
    host_name.clear();
    success = true;
    syscall.clear();
    arch.clear();
    pid = -1;
    ppid = -1;
    name.clear();
    executable.clear();
    args.clear();
    args_count = 0;
    title.clear();
    working_directory.clear();
    entity_id.clear();
    parent_entity_id.clear();
    parent_executable.clear();
    parent_exec_seen = false;
    parent_name.clear();
    parent_args.clear();
    parent_args_count = 0;
    grandparent_entity_id.clear();
    grandparent_pid = -1;
    grandparent_executable.clear();
    parent_untraced = false;
    for (IdName* who : {&user, &effective_user, &group, &effective_group, &audit_user}) {
        who->id.clear();
        who->name.clear();
    }
    tags.clear();
    session.clear();
    inode = 0;
    device = 0;
    has_inode = false;
    inode_tool.clear();
}

std::string_view basename_of(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string format_timestamp(std::int64_t time_ms) {
    std::int64_t secs = time_ms / 1000;
    std::int64_t millis = time_ms % 1000;
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    // Years outside 0000-9999 (a forged audit timestamp) are written whole, with a sign, as
    // ISO 8601's expanded years: "+10000-01-01T00:00:00.000Z", "-0001-12-31T...".
    constexpr std::int64_t kYear0 = -62167219200;    // 0000-01-01T00:00:00Z
    constexpr std::int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z
    if (secs < kYear0 || secs >= kYear10000) {
        const auto t = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        const std::int64_t year = std::int64_t{tm.tm_year} + 1900;
        return fmt::format("{}{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year < 0 ? '-' : '+',
                           year < 0 ? -year : year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                           tm.tm_min, tm.tm_sec, millis);
    }
    // Events come in time order: the date and time of day of the previous second are kept
    // (gmtime_r takes glibc's time zone lock on every call).
    thread_local std::int64_t cached_secs = std::numeric_limits<std::int64_t>::min();
    thread_local char cached[19];  // YYYY-MM-DDTHH:MM:SS
    if (secs != cached_secs) {
        const auto t = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        fmt::format_to_n(cached, sizeof cached, FMT_COMPILE("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}"),
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
        cached_secs = secs;
    }
    std::string out(cached, sizeof cached);
    fmt::format_to(std::back_inserter(out), FMT_COMPILE(".{:03}Z"), millis);
    return out;
}

}  // namespace scanwatch
