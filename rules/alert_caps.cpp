#include "rules/alert_caps.h"

#include <algorithm>

#include <fmt/format.h>

namespace scanwatch::rules {
namespace {

// The last byte boundary at or before `limit` that does not split a UTF-8 sequence.
std::size_t utf8_cut(std::string_view text, std::size_t limit) {
    std::size_t cut = limit;
    for (int back = 0; back < 3 && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80;
         ++back) {
        --cut;
    }
    return (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80 ? limit : cut;
}

bool cap_field(std::string& s) { return truncate_with_marker(s, limits::kFieldBytes); }

}  // namespace

std::string truncation_marker(std::size_t dropped) {
    return fmt::format("\u2026[truncated {} bytes]", dropped);
}

bool truncate_with_marker(std::string& text, std::size_t limit) {
    if (text.size() <= limit) return false;
    const std::size_t cut = utf8_cut(text, limit);
    const std::size_t dropped = text.size() - cut;
    text.resize(cut);
    text += truncation_marker(dropped);
    return true;
}

std::string capped_copy(std::string_view text, std::size_t limit, bool& cut) {
    cut = text.size() > limit;
    if (!cut) return std::string(text);
    const std::size_t keep = utf8_cut(text, limit);
    std::string out(text.substr(0, keep));
    out += truncation_marker(text.size() - keep);
    return out;
}

std::string capped_command_line(const ProcessEvent& event, std::size_t limit, bool& cut) {
    std::string out;
    std::size_t total = 0;  // bytes of the whole command line
    for (std::size_t i = 0; i < event.args.size(); ++i) {
        const std::string_view arg = event.args[i];
        const std::size_t sep = i == 0 ? 0 : 1;
        total += sep + arg.size();
        // Only the part under the cap is copied: a command line of 100 MB is never built.
        if (out.size() <= limit) {
            if (sep != 0) out += ' ';
            out.append(arg.substr(0, limit + 1 - std::min(out.size(), limit + 1)));
        }
    }
    cut = total > limit;
    if (cut) {
        const std::size_t keep = utf8_cut(out, limit);
        out.resize(keep);
        out += truncation_marker(total - keep);
    }
    return out;
}

std::uint64_t cap_evidence(Evidence& ev, std::string& host_name) {
    std::uint64_t n = 0;
    for (std::string* s : {&host_name, &ev.process_name, &ev.parent_executable,
                           &ev.grandparent_executable, &ev.user_id, &ev.user_name,
                           &ev.audit_user_id, &ev.audit_user_name, &ev.working_directory}) {
        n += cap_field(*s) ? 1 : 0;
    }
    return n;
}

}  // namespace scanwatch::rules
