#include "rules/rule_toml.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "rules/toml_guard.h"

namespace scanwatch::rules::detail {

Place place_of(const toml::node& node) {
    const auto& begin = node.source().begin;
    return {static_cast<int>(begin.line), static_cast<int>(begin.column)};
}

namespace {

// toml++ puts an end-of-file error one column past the last newline, and a query string with
// escaped newlines (`"a\\nb"`) has more lines than the file text holding it: keep every place on a
// real line of the file, at most one character past its end, so an editor can jump to it.
Place clamp_place(std::string_view file_text, Place at) {
    if (at.line <= 0 || at.column <= 0) return at;
    std::size_t begin = 0;
    int line = 1;
    for (; line < at.line; ++line) {
        const std::size_t end = file_text.find('\n', begin);
        if (end == std::string_view::npos) break;
        begin = end + 1;
    }
    std::size_t end = file_text.find('\n', begin);
    if (end == std::string_view::npos) end = file_text.size();
    int chars = 0;
    for (std::size_t i = begin; i < end; ++i) {
        if ((static_cast<unsigned char>(file_text[i]) & 0xC0u) != 0x80u) ++chars;
    }
    return {line, std::min(at.column, chars + 1)};
}

}  // namespace

// A multi-line string drops the newline right after its opening quotes, so its first query line
// is the next file line.
Place query_place(std::string_view file_text, Place value, int kql_line, int kql_column) {
    if (value.line <= 0 || value.column <= 0) return value;
    std::size_t offset = 0;
    for (int line = 1; line < value.line && offset != std::string_view::npos; ++line) {
        offset = file_text.find('\n', offset);
        if (offset != std::string_view::npos) ++offset;
    }
    if (offset == std::string_view::npos) return value;
    const std::size_t start = offset + static_cast<std::size_t>(value.column - 1);
    if (start >= file_text.size()) return value;
    const std::string_view at = file_text.substr(start);
    const bool multi = at.rfind("'''", 0) == 0 || at.rfind("\"\"\"", 0) == 0;
    const int quote_len = multi ? 3 : 1;
    const bool skips_newline = multi && at.size() > 3 && (at[3] == '\n' || at[3] == '\r');
    if (skips_newline) return clamp_place(file_text, {value.line + kql_line, kql_column});
    if (kql_line == 1) {
        return clamp_place(file_text, {value.line, value.column + quote_len + kql_column - 1});
    }
    return clamp_place(file_text, {value.line + kql_line - 1, kql_column});
}

RuleError error_at(std::string_view source, Place at, std::string message) {
    return RuleError{std::string(source), at.line, at.column, std::move(message)};
}

std::optional<RuleError> read_text_file(const std::string& path, std::string& out) {
    constexpr std::size_t kMaxFileBytes = kMaxTomlBytes;
    const auto cannot = [&path](std::string_view why) {
        return RuleError{path, 0, 0, fmt::format("cannot read {}: {}", path, why)};
    };
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!file) return cannot(std::strerror(errno));
    out.clear();
    char buffer[64 * 1024];
    for (;;) {
        const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
        out.append(buffer, n);
        if (out.size() > kMaxFileBytes) {
            return cannot(fmt::format("larger than {} bytes", kMaxFileBytes));
        }
        if (n < sizeof buffer) break;
    }
    // fopen succeeds on a directory; reading it fails with EISDIR.
    if (std::ferror(file.get())) return cannot(std::strerror(errno));
    return std::nullopt;
}

std::optional<RuleError> parse_toml(std::string_view text, std::string_view source,
                                    toml::table& out) {
    // toml++ recurses per key part and nesting level: refuse what would exhaust the stack first.
    if (auto shape = check_toml_shape(text)) {
        return error_at(source, clamp_place(text, {shape->line, shape->column}),
                        std::move(shape->message));
    }
    try {
        out = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        const Place at{static_cast<int>(e.source().begin.line),
                       static_cast<int>(e.source().begin.column)};
        return error_at(source, clamp_place(text, at), std::string(e.description()));
    }
    return std::nullopt;
}

std::variant<RuleException, RuleError> read_exception(const toml::node& node,
                                                      std::string_view file_text,
                                                      std::string_view source,
                                                      std::string_view what, bool allow_rule_id) {
    const Place table_place = place_of(node);
    const toml::table* t = node.as_table();
    if (t == nullptr)
        return error_at(source, table_place, fmt::format("{} entries must be tables", what));
    RuleException ex;
    ex.source = std::string(source);
    ex.line = table_place.line;
    for (const auto& [key, value] : *t) {
        const std::string_view k = key.str();
        const Place at = place_of(value);
        if (k == "query") {
            if (!value.is_string())
                return error_at(source, at, fmt::format("{}.query must be a string", what));
            ex.query_text = *value.value<std::string>();
        } else if (k == "description") {
            if (!value.is_string()) {
                return error_at(source, at, fmt::format("{}.description must be a string", what));
            }
            ex.description = *value.value<std::string>();
        } else if (k == "rule_id" && allow_rule_id) {
            if (!value.is_string())
                return error_at(source, at, fmt::format("{}.rule_id must be a string", what));
            ex.rule_id = *value.value<std::string>();
            if (ex.rule_id.empty()) {
                return error_at(
                    source, at,
                    fmt::format("{}.rule_id is empty; leave it out to apply the exception "
                                "to every rule",
                                what));
            }
        } else {
            const Place key_place{static_cast<int>(key.source().begin.line),
                                  static_cast<int>(key.source().begin.column)};
            return error_at(source, key_place.line > 0 ? key_place : at,
                            fmt::format("unknown key \"{}\" in {}; expected query, description{}",
                                        k, what, allow_rule_id ? ", rule_id" : ""));
        }
    }
    const toml::node* query = t->get("query");
    if (query == nullptr)
        return error_at(source, table_place, fmt::format("{} needs a query", what));
    FieldCatalog catalog;
    auto parsed = Query::parse(ex.query_text, catalog.resolver());
    if (auto* kql_error = std::get_if<QueryError>(&parsed)) {
        const Place at =
            query_place(file_text, place_of(*query), kql_error->line, kql_error->column);
        return error_at(source, at, fmt::format("exception query: {}", kql_error->message));
    }
    ex.query = std::get<Query>(std::move(parsed));
    ex.unknown_fields = catalog.unknown_fields();
    return ex;
}

}  // namespace scanwatch::rules::detail
