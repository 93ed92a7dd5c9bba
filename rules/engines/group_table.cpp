#include "rules/engines/group_table.h"

#include <algorithm>

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/engine_state.h"

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

using detail::hex;
using detail::hex_list;
using detail::unhex;
using detail::unhex_list;

void save_group_base(const GroupBase& g, nlohmann::json& out) {
    nlohmann::json terms = nlohmann::json::array();
    for (const auto& [field, value] : g.terms) terms.push_back({field, hex(value)});
    out["key"] = hex(g.key);
    out["terms"] = std::move(terms);
    out["last_ms"] = g.last_ms;
    out["spent_until"] = g.spent_until;
    out["sample_commands"] = hex_list(g.sample_commands);
    out["sample_values"] = hex_list(g.sample_values);
}

void restore_group_base(const nlohmann::json& j, const EngineOptions& options, GroupBase& g) {
    g.key = unhex(j.at("key").get<std::string>());
    if (g.key.empty()) throw std::invalid_argument("empty group key");
    for (const auto& t : j.at("terms")) {
        std::string value = unhex(t.at(1).get<std::string>());
        cap_field(value);
        g.terms.emplace_back(t.at(0).get<std::string>(), std::move(value));
    }
    g.last_ms = detail::get_int64(j.at("last_ms"));
    g.spent_until = detail::get_int64(j.at("spent_until"));
    g.sample_commands = unhex_list(j.at("sample_commands"));
    g.sample_values = unhex_list(j.at("sample_values"));
    // A state written with larger samples (another version or other options) is cut to today's.
    if (g.sample_commands.size() > options.sample_commands)
        g.sample_commands.resize(options.sample_commands);
    if (g.sample_values.size() > options.sample_values)
        g.sample_values.resize(options.sample_values);
    for (auto& s : g.sample_commands) truncate_with_marker(s, limits::kSampleCommandBytes);
    for (auto& s : g.sample_values) truncate_with_marker(s, limits::kSampleValueBytes);
}

}  // namespace scanwatch::rules
