#pragma once
// Internal to rules/: character, position, escape and message helpers shared by the KQL and EQL
// lexers (docs/rules.md, "KQL queries" and "EQL queries").

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "rules/query/query.h"
#include "rules/query/ast.h"

namespace scanwatch::rules::query_text {

/// Long tokens are cut to this many bytes in messages so one bad token cannot flood a log line.
inline constexpr std::size_t kMaxShownBytes = 40;

/// A UTF-8 continuation byte.
bool is_continuation(char c);
/// Whitespace between tokens.
bool is_space(char c);
/// The value of a hexadecimal digit, or -1.
int hex_value(char c);
/// Appends code point `cp` to `out` as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp);
/// `text` cut to kMaxShownBytes on a character boundary, with "..." when cut.
std::string cut(std::string_view text);

/// Longest query text accepted, in bytes (docs/operations.md bounds).
inline constexpr std::size_t kMaxQueryBytes = 64 * 1024;

/// The checks before parsing any query: a resolver is given and the text is at most
/// kMaxQueryBytes. False with `error` set (at line 1, column 1) when one fails.
bool check_input(std::string_view text, bool has_resolver, QueryError& error);

/// Prints an and/or/not node the way KQL and EQL both write it: operands through `print`, in
/// parentheses where `precedence` is below their slot (or 1, and 2, not 3). False, printing
/// nothing, for any other kind.
bool print_logic(const query::Expr& e, std::string& out, int (*precedence)(const query::Expr&),
                 void (*print)(const query::Expr&, std::string&));

/// Where a token starts: 1-based line and column (columns in characters).
struct TokenStart {
    int line = 1;
    int column = 1;
};

/// A position in a query's text: byte offset, 1-based line and column (columns in characters).
/// Borrows `text` for its lifetime; the lexers build on it.
class Cursor {
public:
    explicit Cursor(std::string_view text) : text_(text) {}

protected:
    bool at_end() const { return pos_ >= text_.size(); }
    /// Moves `count` bytes on, counting lines and characters.
    void advance(std::size_t count = 1);
    QueryError error_here(std::string message) const { return {std::move(message), line_, column_}; }

    /// What a string's escape reader did at a backslash.
    enum class Escape : std::uint8_t { read, literal, failed };
    /// Reads a `"`-quoted string from its opening quote past the closing one, appending its
    /// bytes to `out`. At a backslash calls `escape()`: `read` (it consumed and appended the
    /// escape), `literal` (the backslash is kept as written) or `failed` (it set `error`).
    /// Without a closing quote, sets `error` to `unterminated` at the opening quote.
    template <class EscapeReader>
    bool read_quoted(std::string& out, QueryError& error, std::string unterminated,
                     EscapeReader escape) {
        const QueryError open = error_here(std::move(unterminated));
        advance();
        for (;;) {
            if (at_end()) {
                error = open;
                return false;
            }
            const char c = text_[pos_];
            if (c == '"') {
                advance();
                return true;
            }
            if (c == '\\') {
                const Escape done = escape();
                if (done == Escape::failed) return false;
                if (done == Escape::read) continue;
            }
            out += c;
            advance();
        }
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    int line_ = 1;
    int column_ = 1;
};

}  // namespace scanwatch::rules::query_text
