#pragma once
// Internal to rules/: the token stream, first-error and nesting-depth state shared by the KQL and
// EQL recursive-descent parsers (docs/rules.md, "KQL queries" and "EQL queries").

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "rules/query/query.h"
#include "rules/query/ast.h"

namespace scanwatch::rules::query_text {

/// A parser's lexer, current and look-ahead token, first error and fields read. `Lexer` has
/// `bool next(Token&, QueryError&)`; `Token` has `line` and `column`. Borrows text and resolver.
template <class Lexer, class Token>
class ParserBase {
public:
    const QueryError& error() const { return error_; }

protected:
    ParserBase(std::string_view text, const FieldResolver& resolver)
        : lexer_(text), resolver_(resolver) {}

    /// Records an error (only the first counts: later ones are consequences of it); false.
    bool fail(int line, int column, std::string message) {
        if (!failed_) error_ = QueryError{std::move(message), line, column};
        failed_ = true;
        return false;
    }
    bool fail(const Token& at, std::string message) {
        return fail(at.line, at.column, std::move(message));
    }

    /// Moves to the next token (the look-ahead one if peeked); false on a lexical error.
    bool advance() {
        if (has_next_) {
            cur_ = std::move(next_);
            has_next_ = false;
            return true;
        }
        QueryError lex_error;
        if (!lexer_.next(cur_, lex_error))
            return fail(lex_error.line, lex_error.column, lex_error.message);
        return true;
    }

    /// The token after the current one, lexed once; false on a lexical error.
    bool peek_next(const Token*& next) {
        if (!has_next_) {
            QueryError lex_error;
            if (!lexer_.next(next_, lex_error)) {
                return fail(lex_error.line, lex_error.column, lex_error.message);
            }
            has_next_ = true;
        }
        next = &next_;
        return true;
    }

    /// False with an error at `at` when one more level would pass query::kMaxDepth.
    bool enter(const Token& at, int depth) {
        if (depth < query::kMaxDepth) return true;
        return fail(at, fmt::format("nesting too deep: more than {} levels of parentheses and \"not\"",
                                    query::kMaxDepth));
    }

    /// Records field `id` read under `name`, once, in first-use order.
    void note_field(int id, const std::string& name) {
        for (int known : field_ids_) {
            if (known == id) return;
        }
        field_ids_.push_back(id);
        field_names_.push_back(name);
    }

    Lexer lexer_;
    const FieldResolver& resolver_;
    Token cur_;
    Token next_;
    bool has_next_ = false;
    bool failed_ = false;
    QueryError error_;
    std::vector<int> field_ids_;
    std::vector<std::string> field_names_;
};

}  // namespace scanwatch::rules::query_text
