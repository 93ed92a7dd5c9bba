#pragma once
// Internal to rules/: EQL's tokens (docs/rules.md, "EQL queries").

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules/query/query.h"
#include "rules/query/text.h"

namespace scanwatch::rules::eql {

enum class TokenKind : std::uint8_t {
    name,    ///< a field, keyword or function name (`text`); `?name` sets `optional`
    string,  ///< a string literal, unescaped into `text`
    number,  ///< a numeric literal as written
    lparen,
    rparen,
    comma,
    op,  ///< `==`, `!=`, `<`, `<=`, `>`, `>=` or `:` (in `text`)
    end,
    lbracket,  ///< `[`: a sequence or sample term opens
    rbracket,  ///< `]`
    bang,      ///< `!` directly before `[`: a missing event of a sequence
    assign,    ///< `=` of `with maxspan=5s` / `with runs=3` (in a condition, an error)
};

/// One token, with where it starts.
struct Token : query_text::TokenStart {
    TokenKind kind = TokenKind::end;
    std::string text;
    bool optional = false;  ///< `?field`
    bool tilde = false;     ///< `in~`, `like~`, `startsWith~`: case-insensitive form
    bool raw = false;       ///< a `"""..."""` string
    std::string_view source;  ///< as written; points into the query text
};

/// Splits a query into tokens on demand, skipping whitespace and `//` / `/* */` comments.
/// Borrows `text` for its lifetime.
class Lexer : private query_text::Cursor {
public:
    explicit Lexer(std::string_view text) : Cursor(text) {}

    /// The next token into `out` (kind end at the end), or false with `error` set.
    bool next(Token& out, QueryError& error);

private:
    char peek(std::size_t ahead = 0) const {
        return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
    }
    bool skip_space(QueryError& error);
    bool name(Token& out, QueryError& error);
    bool string(Token& out, QueryError& error);
    bool raw_string(Token& out, QueryError& error);
    bool escape(std::string& out, QueryError& error);
    void number(Token& out);
};

/// A token for a message: "end of query", `string "..."` or the text as written, cut.
std::string describe(const Token& t);
/// True for a byte that may start a field or function name.
bool is_name_start(char c);
/// True for a byte that may continue a field or function name.
bool is_name_char(char c);

}  // namespace scanwatch::rules::eql
