#pragma once
// Internal to rules/: KQL's tokens and character classes, shared by the KQL parser and printer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules/query/query.h"
#include "rules/query/text.h"

namespace scanwatch::rules::kql {

using query_text::is_space;
/// True for a byte that ends an unquoted word (whitespace, parentheses, quote, colon, braces,
/// angle brackets).
bool ends_word(char c);
/// What a backslash may escape in an unquoted value to stand for itself.
bool escapable(char c);
/// A byte allowed in a field name.
bool is_field_char(char c);
using query_text::is_continuation;
/// True for `and`, `or`, `not` in any case.
bool is_keyword(std::string_view word);

enum class TokenKind : std::uint8_t {
    word,
    quoted,
    lparen,
    rparen,
    colon,
    range,  ///< `<`, `<=`, `>` or `>=` (in `text`)
    kw_and,
    kw_or,
    kw_not,
    end
};

/// One token, with its unescaped text and where it starts.
struct Token : query_text::TokenStart {
    TokenKind kind = TokenKind::end;
    std::string text;
    std::string roles;     ///< left empty without a wildcard, so the value compiles to a literal
    bool escaped = false;  ///< an escaped word is never a keyword
    std::string_view raw;  ///< as written; points into the query text
};

/// A token for a message: "end of query", `quoted value "..."` or the raw text, quoted and cut.
std::string describe(const Token& t);

/// Splits a query into tokens on demand. Borrows `text` for its lifetime.
class Lexer : private query_text::Cursor {
public:
    explicit Lexer(std::string_view text) : Cursor(text) {}

    /// The next token into `out` (kind end at the end), or false with `error` set.
    bool next(Token& out, QueryError& error);

private:
    bool has(std::size_t ahead) const { return pos_ + ahead < text_.size(); }
    char peek(std::size_t ahead = 0) const { return text_[pos_ + ahead]; }
    bool hex4_at(std::size_t offset, std::uint32_t& unit) const;
    bool unicode_escape(std::string& out, QueryError& error);
    bool word(Token& out, QueryError& error);
    bool value_goes_on() const;
    bool word_escape(Token& out, QueryError& error);
    bool quoted(Token& out, QueryError& error);
    std::string_view char_at(std::size_t offset) const;
};

}  // namespace scanwatch::rules::kql
