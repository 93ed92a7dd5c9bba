#include "agent/diagnostics.h"

#include <syslog.h>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

// Shows a line excerpt with control bytes and non-ASCII escaped, so the message stays one line.
std::string excerpt(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 120)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20U || u >= 0x7FU) {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out += c;
        }
    }
    if (text.size() > 120) out += "...";
    return out;
}

}  // namespace

void Diagnostics::malformed(parsers::Malformed reason, std::uint64_t line, std::string_view text) {
    auto& n = reported_[static_cast<std::size_t>(reason)];
    ++n;
    if (n > per_reason_) return;
    emit(fmt::format("{}:{}: skipped malformed line ({}): {}", source_, line,
                     parsers::malformed_name(reason), excerpt(text)));
    if (n == per_reason_) {
        emit(fmt::format("further '{}' lines are counted in the stats, not reported",
                         parsers::malformed_name(reason)));
    }
}

void Diagnostics::warn(std::string_view message) { emit(std::string(message)); }

void Diagnostics::also_syslog() {
    if (syslog_) return;
    openlog("scanwatch", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    syslog_ = true;
}

void Diagnostics::emit(const std::string& message) {
    if (before_message_) before_message_();
    fmt::print(out_, "scanwatch: {}\n", message);
    std::fflush(out_);
    if (syslog_) syslog(LOG_WARNING, "%s", message.c_str());
}

}  // namespace scanwatch::agent
