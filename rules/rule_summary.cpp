#include "rules/rule_summary.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "rules/rule_check.h"
#include "rules/rule_toml.h"

namespace scanwatch::rules {
namespace {

namespace fs = std::filesystem;

void collect(const std::string& path, std::vector<std::string>& files,
             std::vector<FileVerdict>& unreadable) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
        files.push_back(path);
        return;
    }
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
    for (fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name.front() == '.') {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        std::error_code entry_ec;
        if (it->path().extension() == ".toml" && it->is_regular_file(entry_ec)) {
            files.push_back(it->path().string());
        }
    }
    if (ec) unreadable.push_back({path, {}, {}, Verdict::refused, fmt::format("cannot list: {}", ec.message())});
}

}  // namespace

std::string written_type(std::string_view text) {
    const std::size_t at = text.find("\ntype = \"");
    if (at == std::string_view::npos) return {};
    const std::size_t begin = at + 9;
    const std::size_t end = text.find('"', begin);
    if (end == std::string_view::npos) return {};
    return std::string(text.substr(begin, end - begin));
}

std::string refusal_kind(const RuleError& error, std::string_view rule_text) {
    const std::string rule_type = written_type(rule_text);
    const std::string& message = error.message;
    constexpr std::string_view type = "rule type \"";
    constexpr std::string_view language = "query language \"";
    for (const auto prefix : {type, language}) {
        if (message.rfind(prefix, 0) == 0) {
            const std::size_t end = message.find('"', prefix.size());
            const std::string value = message.substr(prefix.size(), end - prefix.size());
            return fmt::format("{} {}", prefix == type ? "type" : "language", value);
        }
    }
    const std::string query_language = rule_type == "eql" ? "eql" : "kuery";
    if (error.unsupported) return query_language + ": not supported";
    if (message.rfind("query:", 0) == 0) return query_language + ": query error";
    return "other";
}

std::size_t Summary::count(Verdict v) const {
    return static_cast<std::size_t>(std::count_if(
        files.begin(), files.end(), [v](const FileVerdict& f) { return f.verdict == v; }));
}

std::string Summary::to_string() const {
    std::string out;
    for (const FileVerdict& f : files) {
        switch (f.verdict) {
            case Verdict::can_fire: out += fmt::format("can-fire     {}\n", f.file); break;
            case Verdict::cannot_fire:
                out += fmt::format("cannot-fire  {}: {}\n", f.file, f.reason);
                break;
            case Verdict::refused: out += fmt::format("refused      {}: {}\n", f.file, f.reason); break;
            case Verdict::disabled: out += fmt::format("disabled     {}: {}\n", f.file, f.reason); break;
        }
    }
    const std::size_t can = count(Verdict::can_fire);
    const std::size_t cannot = count(Verdict::cannot_fire);
    const std::size_t disabled = count(Verdict::disabled);
    out += fmt::format("files {}, load {}, can fire {}, cannot fire {}, refused {}", files.size(),
                       can + cannot + disabled, can, cannot, count(Verdict::refused));
    // Only when there is one, so the line reads as it did for a set without disabled rules.
    out += disabled > 0 ? fmt::format(", disabled {}\n", disabled) : std::string("\n");
    std::map<std::string, std::pair<std::size_t, std::size_t>> by_type;  // loaded: can, cannot
    for (const FileVerdict& f : files) {
        if (f.verdict == Verdict::can_fire) ++by_type[f.type].first;
        if (f.verdict == Verdict::cannot_fire) ++by_type[f.type].second;
    }
    for (const auto& [type, n] : by_type) {
        out += fmt::format("  loaded {}: can fire {}, cannot fire {}\n", type, n.first, n.second);
    }
    std::pair<std::size_t, std::size_t> sequences;  // of the loaded eql: can, cannot
    for (const FileVerdict& f : files) {
        if (!f.eql_sequence) continue;
        if (f.verdict == Verdict::can_fire) ++sequences.first;
        if (f.verdict == Verdict::cannot_fire) ++sequences.second;
    }
    if (sequences.first + sequences.second > 0) {
        out += fmt::format("  loaded eql, sequences and samples: can fire {}, cannot fire {}\n",
                           sequences.first, sequences.second);
    }
    for (const auto& [kind, n] : refused_by) out += fmt::format("  refused, {}: {}\n", kind, n);
    return out;
}

Summary summarize_rules(const std::vector<std::string>& paths) {
    return summarize_rules(paths, ExecAction::executed);
}

Summary summarize_rules(const std::vector<std::string>& paths, ExecAction exec_action) {
    Summary out;
    std::vector<std::string> files;
    for (const auto& path : paths) collect(path, files, out.files);
    std::sort(files.begin(), files.end());
    std::string text;
    for (const auto& file : files) {
        FileVerdict v;
        v.file = file;
        if (auto error = detail::read_text_file(file, text)) {
            v.reason = error->message;
        } else {
            auto loaded = load_rule(text, file);
            if (auto* e = std::get_if<RuleError>(&loaded)) {
                v.reason = e->to_string();
                // The type as written, for the reader: the loader refused before keeping it.
                v.type = written_type(text);
                ++out.refused_by[refusal_kind(*e, text)];
            } else {
                const auto loaded_rule = with_exec_alias(
                    std::get<std::shared_ptr<const RuleDefinition>>(std::move(loaded)), exec_action);
                const RuleDefinition& rule = *loaded_rule;
                v.rule_name = rule.name;
                v.type = rule.type;
                v.eql_sequence = rule.eql_sequence != nullptr;
                const auto reasons = cannot_fire_reasons(rule);
                v.verdict = reasons.empty() ? Verdict::can_fire : Verdict::cannot_fire;
                if (!reasons.empty()) v.reason = reasons.front();
                if (!rule.enabled) {
                    v.verdict = Verdict::disabled;
                    v.reason = "enabled = false: Kibana does not run it, nor does scanwatch";
                }
            }
        }
        out.files.push_back(std::move(v));
    }
    return out;
}

}  // namespace scanwatch::rules
