#include "agent/diagnostics.h"

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
    fmt::print(out_, "scanwatch: {}:{}: skipped malformed line ({}): {}\n", source_, line,
               parsers::malformed_name(reason), excerpt(text));
    if (n == per_reason_) {
        fmt::print(out_, "scanwatch: further '{}' lines are counted in the stats, not reported\n",
                   parsers::malformed_name(reason));
    }
    std::fflush(out_);
}

void Diagnostics::warn(std::string_view message) {
    fmt::print(out_, "scanwatch: {}\n", message);
    std::fflush(out_);
}

}  // namespace scanwatch::agent
