#include "rules/query/kql/parser.h"

#include <utility>

#include <fmt/format.h>

#include "rules/query/kql/lexer.h"
#include "rules/query/parser_base.h"

namespace scanwatch::rules::kql {
namespace {

using query::Expr;
using query::ExprKind;
using query::kMaxDepth;
using query::make_group;
using query::make_not;

struct FieldRef {
    int id = -1;
    std::string name;
    std::string range_op;  ///< `<`, `<=`, `>`, `>=` when the field is followed by one
};

// Recursive descent over a lazily lexed stream, so errors come out in text order: a lexical
// error after a syntax error is never reported first.
class Parser : public query_text::ParserBase<Lexer, Token> {
public:
    Parser(std::string_view text, const FieldResolver& resolver) : ParserBase(text, resolver) {}

    bool parse(Expr& out);
    const std::vector<int>& field_ids() const { return field_ids_; }
    const std::vector<std::string>& field_names() const { return field_names_; }

private:
    template <typename Operand>
    bool parse_joined(TokenKind keyword, ExprKind kind, Expr& out, Operand operand);
    template <typename Primary>
    bool parse_negation(Expr& out, int depth, Primary primary);
    bool parse_or(Expr& out, int depth);
    bool parse_and(Expr& out, int depth);
    bool parse_not(Expr& out, int depth);
    bool parse_primary(Expr& out, int depth);
    bool parse_term(Expr& out, int depth);
    bool parse_field(FieldRef& field);
    bool parse_values(const FieldRef& field, Expr& out, int depth);
    bool parse_range(const FieldRef& field, Expr& out);
    bool parse_value_or(const FieldRef& field, Expr& out, int depth);
    bool parse_value_and(const FieldRef& field, Expr& out, int depth);
    bool parse_value_not(const FieldRef& field, Expr& out, int depth);
    bool parse_value_primary(const FieldRef& field, Expr& out, int depth);
    bool close_group(const Token& open, std::string_view context);
    Expr leaf(const FieldRef& field) const;
};

bool Parser::parse(Expr& out) {
    if (!advance()) return false;
    if (cur_.kind == TokenKind::end) return fail(1, 1, "empty query");
    if (!parse_or(out, 0)) return false;
    switch (cur_.kind) {
        case TokenKind::end:
            return true;
        case TokenKind::rparen:
            return fail(cur_, "unbalanced parenthesis: \")\" has no matching \"(\"");
        case TokenKind::colon:
            return fail(cur_,
                        "expected \"and\", \"or\" or end of query, found \":\" "
                        "(quote or escape a ':' inside a value)");
        default:
            return fail(cur_, fmt::format("expected \"and\", \"or\" or end of query, found {}",
                                          describe(cur_)));
    }
}

// `operand (keyword operand)*`, as one group of `kind` (a single operand stays itself).
template <typename Operand>
bool Parser::parse_joined(TokenKind keyword, ExprKind kind, Expr& out, Operand operand) {
    std::vector<Expr> items(1);
    if (!operand(items.back())) return false;
    while (cur_.kind == keyword) {
        if (!advance()) return false;
        items.emplace_back();
        if (!operand(items.back())) return false;
    }
    out = make_group(kind, std::move(items));
    return true;
}

// `not* primary`; each `not` is one level of nesting.
template <typename Primary>
bool Parser::parse_negation(Expr& out, int depth, Primary primary) {
    if (cur_.kind != TokenKind::kw_not) return primary(out, depth);
    if (!enter(cur_, depth) || !advance()) return false;
    Expr operand;
    if (!parse_negation(operand, depth + 1, primary)) return false;
    out = make_not(std::move(operand));
    return true;
}

bool Parser::parse_or(Expr& out, int depth) {
    return parse_joined(TokenKind::kw_or, ExprKind::or_op, out,
                        [&](Expr& item) { return parse_and(item, depth); });
}

bool Parser::parse_and(Expr& out, int depth) {
    return parse_joined(TokenKind::kw_and, ExprKind::and_op, out,
                        [&](Expr& item) { return parse_not(item, depth); });
}

bool Parser::parse_not(Expr& out, int depth) {
    return parse_negation(out, depth, [this](Expr& e, int d) { return parse_primary(e, d); });
}

bool Parser::close_group(const Token& open, std::string_view context) {
    if (cur_.kind == TokenKind::rparen) return advance();
    if (cur_.kind == TokenKind::end) {
        return fail(open, "unbalanced parenthesis: this \"(\" is never closed");
    }
    return fail(cur_, fmt::format("expected \"and\", \"or\" or \")\"{}, found {}", context,
                                  describe(cur_)));
}

bool Parser::parse_primary(Expr& out, int depth) {
    switch (cur_.kind) {
        case TokenKind::lparen: {
            if (!enter(cur_, depth)) return false;
            const Token open = cur_;
            if (!advance() || !parse_or(out, depth + 1)) return false;
            return close_group(open, "");
        }
        case TokenKind::word:
            return parse_term(out, depth);
        case TokenKind::quoted: {
            const Token* next = nullptr;
            if (!peek_next(next)) return false;
            if (next->kind == TokenKind::colon) {
                return fail(cur_, "quoted field names are not supported");
            }
            return fail(
                cur_, fmt::format("a value needs a field (field:value), found {}", describe(cur_)));
        }
        default:
            return fail(cur_,
                        fmt::format("expected a field name or \"(\", found {}", describe(cur_)));
    }
}

bool Parser::parse_field(FieldRef& field) {
    const Token* next = nullptr;
    if (!peek_next(next)) return false;
    bool plain = !cur_.escaped && cur_.roles.empty();
    for (char c : cur_.text) plain = plain && is_field_char(c);
    if (next->kind != TokenKind::colon && next->kind != TokenKind::range) {
        // Dotted names (`process.name`) are ECS fields missing their ':'; other words are values
        // missing their field. The resolver is not asked: it may register what it is given.
        const char first = cur_.text.front();
        const bool letter_first = (first >= 'a' && first <= 'z') ||
                                  (first >= 'A' && first <= 'Z') || first == '@' || first == '_';
        if (plain && letter_first && cur_.text.find('.') != std::string::npos) {
            return fail(*next, fmt::format("expected ':' after field \"{}\", found {}", cur_.text,
                                           describe(*next)));
        }
        return fail(cur_,
                    fmt::format("a value needs a field (field:value), found {}", describe(cur_)));
    }
    if (!cur_.roles.empty()) {
        return fail(cur_,
                    fmt::format("wildcard field names are not supported: {}", describe(cur_)));
    }
    if (!plain) {
        for (std::size_t i = 0; i < cur_.raw.size(); ++i) {
            if (!is_field_char(cur_.raw[i])) {
                std::size_t end = i + 1;
                while (end < cur_.raw.size() && is_continuation(cur_.raw[end])) ++end;
                return fail(cur_, fmt::format("invalid character \"{}\" in field name {}",
                                              cur_.raw.substr(i, end - i), describe(cur_)));
            }
        }
    }
    const int id = resolver_(cur_.text);
    if (id < 0) return fail(cur_, fmt::format("unknown field \"{}\"", cur_.text));
    field.id = id;
    field.name = cur_.text;
    if (next->kind == TokenKind::range) field.range_op = next->text;
    note_field(id, field.name);
    return advance() && advance();
}

bool Parser::parse_term(Expr& out, int depth) {
    FieldRef field;
    if (!parse_field(field)) return false;
    if (!field.range_op.empty()) return parse_range(field, out);
    return parse_values(field, out, depth);
}

// `f > v`: numeric when v is a number, else byte-wise (Kibana compares keywords that way).
bool Parser::parse_range(const FieldRef& field, Expr& out) {
    if (cur_.kind != TokenKind::word && cur_.kind != TokenKind::quoted) {
        return fail(cur_, fmt::format("expected a value after \"{} {}\", found {}", field.name,
                                      field.range_op, describe(cur_)));
    }
    if (!cur_.roles.empty()) {
        return fail(cur_, fmt::format("a range value cannot hold a wildcard: {}", describe(cur_)));
    }
    out = query::make_leaf(ExprKind::compare, field.id, field.name);
    query::Comparison& c = out.comparison;
    const std::string_view op = field.range_op;
    c.op = op == "<"    ? query::CompareOp::lt
           : op == "<=" ? query::CompareOp::le
           : op == ">"  ? query::CompareOp::gt
                        : query::CompareOp::ge;
    c.text = cur_.text;
    // Quoted or not, a number compares as a number (Kibana's `f > "5"` on a numeric field).
    c.numeric = query::parse_number(cur_.text, c.number);
    return advance();
}

Expr Parser::leaf(const FieldRef& field) const {
    if (cur_.kind == TokenKind::word && !cur_.roles.empty()) {
        return query::make_match(field.id, field.name, query::make_wildcard(cur_.text, cur_.roles));
    }
    return query::make_match(field.id, field.name, query::make_literal(cur_.text));
}

bool Parser::parse_values(const FieldRef& field, Expr& out, int depth) {
    switch (cur_.kind) {
        case TokenKind::lparen:
        case TokenKind::word:
        case TokenKind::quoted:
            return parse_value_primary(field, out, depth);  // a value list or one value
        case TokenKind::kw_and:
        case TokenKind::kw_or:
        case TokenKind::kw_not:
            return fail(cur_,
                        fmt::format("expected a value after \"{}:\", found {} (quote a keyword "
                                    "to use it as a value: \"{}\")",
                                    field.name, describe(cur_), cur_.text));
        default:
            return fail(cur_, fmt::format("expected a value after \"{}:\", found {}", field.name,
                                          describe(cur_)));
    }
}

bool Parser::parse_value_or(const FieldRef& field, Expr& out, int depth) {
    return parse_joined(TokenKind::kw_or, ExprKind::or_op, out,
                        [&](Expr& item) { return parse_value_and(field, item, depth); });
}

bool Parser::parse_value_and(const FieldRef& field, Expr& out, int depth) {
    return parse_joined(TokenKind::kw_and, ExprKind::and_op, out,
                        [&](Expr& item) { return parse_value_not(field, item, depth); });
}

bool Parser::parse_value_not(const FieldRef& field, Expr& out, int depth) {
    return parse_negation(out, depth, [this, &field](Expr& e, int d) {
        return parse_value_primary(field, e, d);
    });
}

bool Parser::parse_value_primary(const FieldRef& field, Expr& out, int depth) {
    switch (cur_.kind) {
        case TokenKind::lparen: {
            if (!enter(cur_, depth)) return false;
            const Token open = cur_;
            if (!advance() || !parse_value_or(field, out, depth + 1)) return false;
            return close_group(open, fmt::format(" in the value list of \"{}\"", field.name));
        }
        case TokenKind::word:
        case TokenKind::quoted:
            out = leaf(field);
            return advance();
        default:
            return fail(cur_, fmt::format("expected a value or \"(\" in the value list of \"{}\", "
                                          "found {}",
                                          field.name, describe(cur_)));
    }
}

}  // namespace

std::variant<Parsed, QueryError> parse(std::string_view text, const FieldResolver& resolver) {
    Parser parser(text, resolver);
    Parsed out;
    if (!parser.parse(out.root)) return parser.error();
    out.field_ids = parser.field_ids();
    out.field_names = parser.field_names();
    return out;
}

}  // namespace scanwatch::rules::kql
