#include "rules/rule_files.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "rules/rule_summary.h"
#include "rules/rule_toml.h"

namespace scanwatch::rules {
namespace {

namespace fs = std::filesystem;

// Fills `files` with the rule files `path` stands for, or returns why it cannot.
std::optional<RuleError> rule_files(const std::string& path, std::vector<std::string>& files,
                                    std::vector<bool>& in_folder) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec) return RuleError{path, 0, 0, fmt::format("cannot open {}: {}", path, ec.message())};
    if (!fs::is_directory(status)) {
        files.push_back(path);
        in_folder.push_back(false);
        return std::nullopt;
    }
    std::vector<std::string> names;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name.front() == '.' || it->path().extension() != ".toml") continue;
        std::error_code entry_ec;
        if (!it->is_regular_file(entry_ec)) continue;  // follows symlinks
        names.push_back(name);
    }
    if (ec) return RuleError{path, 0, 0, fmt::format("cannot list {}: {}", path, ec.message())};
    if (names.empty()) {
        return RuleError{path, 0, 0, fmt::format("no rule files (*.toml) in folder {}", path)};
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        files.push_back((fs::path(path) / name).string());
        in_folder.push_back(true);
    }
    return std::nullopt;
}

// Where `rule_id = ...` is written, for the duplicate message; {0, 0} if not found.
detail::Place rule_id_place(std::string_view text) {
    int line = 1;
    for (std::size_t begin = 0; begin < text.size(); ++line) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view l = text.substr(begin, end - begin);
        const std::size_t first = l.find_first_not_of(" \t");
        if (first != std::string_view::npos && l.compare(first, 7, "rule_id") == 0) {
            const std::size_t after = l.find_first_not_of(" \t", first + 7);
            if (after != std::string_view::npos && l[after] == '=') {
                return {line, static_cast<int>(first) + 1};
            }
        }
        begin = end + 1;
    }
    return {};
}

}  // namespace

RuleSet load_rules(const std::vector<std::string>& paths) {
    RuleSet out;
    std::vector<std::string> files;
    std::vector<bool> in_folder;
    for (const auto& path : paths) {
        if (auto error = rule_files(path, files, in_folder)) out.errors.push_back(std::move(*error));
    }
    std::string text;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const std::string& file = files[i];
        if (auto error = detail::read_text_file(file, text)) {
            out.errors.push_back(std::move(*error));
            continue;
        }
        auto loaded = load_rule(text, file);
        if (auto* error = std::get_if<RuleError>(&loaded)) {
            error->kind = refusal_kind(*error, text);
            (in_folder[i] ? out.skipped : out.errors).push_back(std::move(*error));
            continue;
        }
        auto rule = std::get<std::shared_ptr<const RuleDefinition>>(std::move(loaded));
        if (!rule->enabled) {
            out.disabled.push_back(std::move(rule));
            out.disabled_in_folder.push_back(in_folder[i]);
            continue;
        }
        const auto same_id = std::find_if(out.rules.begin(), out.rules.end(), [&](const auto& r) {
            return r->rule_id == rule->rule_id;
        });
        if (same_id != out.rules.end()) {
            out.errors.push_back(detail::error_at(
                file, rule_id_place(text),
                fmt::format(
                    "duplicate rule_id \"{}\": {} already defines it (\"{}\"); rule ids must "
                    "be unique",
                    rule->rule_id, (*same_id)->source, (*same_id)->name)));
            continue;
        }
        out.rules.push_back(std::move(rule));
        out.in_folder.push_back(in_folder[i]);
    }
    return out;
}

RuleSet load_rules(const std::string& path) {
    return load_rules(std::vector<std::string>{path});
}

}  // namespace scanwatch::rules
