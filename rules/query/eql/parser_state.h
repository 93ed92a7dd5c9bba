#pragma once
// Internal to rules/query/eql/parser.cpp and rules/query/eql/functions.cpp: the EQL parser's state.

#include <cstdint>
#include <string>
#include <utility>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/eql/lexer.h"
#include "rules/query/eql/parser.h"
#include "rules/query/parser_base.h"

namespace scanwatch::rules::eql::detail {

using query::Expr;

/// A field as written: its id (-1 for an unknown `?field`), name and `?`.
struct FieldRef {
    int id = -1;
    std::string name;
    bool optional = false;
};

/// A function argument: a field or a literal.
struct Arg {
    Token token;
    FieldRef field;
    bool is_field = false;
};

/// True for a reserved word (and, or, not, in, like, regex, where, null, true, false).
inline bool is_keyword(const Token& t) {
    static constexpr std::string_view kWords[] = {"and", "or",   "not",   "in",   "like",
                                                  "regex", "where", "null", "true", "false"};
    if (t.kind != TokenKind::name || t.optional) return false;
    for (std::string_view w : kWords) {
        if (t.text == w) return true;
    }
    return false;
}

/// True for the bare word `word`.
inline bool is_word(const Token& t, std::string_view word) {
    return t.kind == TokenKind::name && !t.optional && !t.tilde && t.text == word;
}

/// Recursive descent over a lazily lexed stream, so errors come out in text order.
class Parser : public query_text::ParserBase<Lexer, Token> {
public:
    Parser(std::string_view text, const FieldResolver& resolver) : ParserBase(text, resolver) {}

    /// Parses the whole query into `out`; false with error() set when it is not valid.
    bool parse(Parsed& out);
    /// The fields read, in first-use order (after parse()).
    std::vector<int> take_field_ids() { return std::move(field_ids_); }
    std::vector<std::string> take_field_names() { return std::move(field_names_); }

private:
    // Sequences and samples (rules/query/eql/sequence.cpp).
    bool parse_sequence(Parsed& out);
    bool parse_join_keys(std::vector<FieldRef>& keys);
    bool parse_with(std::string_view allowed, std::string& key, std::int64_t& value);
    bool parse_term(ParsedStage& stage, bool allow_missing);
    bool parse_condition_until(std::string_view closer, Expr& out);

    bool parse_or(Expr& out, int depth);
    bool parse_and(Expr& out, int depth);
    bool parse_not(Expr& out, int depth);
    bool parse_primary(Expr& out, int depth);
    bool parse_field(FieldRef& field);
    bool parse_comparison(const FieldRef& field, Expr& out);
    bool parse_equality(const FieldRef& field, const Token& op, Expr& out);
    bool parse_list(const FieldRef& field, const Token& op, std::vector<Token>& items);
    bool build_list(const FieldRef& field, const Token& op, Expr& out);
    bool parse_function(Expr& out);
    bool parse_args(const Token& fn, std::vector<Arg>& args);
    bool parse_bool_suffix(Expr& out);
    Expr string_match(const FieldRef& field, const std::string& value, bool wildcard, bool fold);

    std::size_t regex_count_ = 0;
};

}  // namespace scanwatch::rules::eql::detail
