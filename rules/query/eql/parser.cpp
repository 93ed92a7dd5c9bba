#include "rules/query/eql/parser.h"

#include <utility>

#include <fmt/format.h>

#include "rules/query/eql/parser_state.h"

namespace scanwatch::rules::eql {
namespace detail {

using query::CompareOp;
using query::ExprKind;
using query::kMaxDepth;

bool Parser::parse(Parsed& out) {
    if (!advance()) return false;
    if (cur_.kind == TokenKind::end) return fail(cur_, "empty query");
    if (is_word(cur_, "sequence") || is_word(cur_, "sample")) return parse_sequence(out);
    if (is_word(cur_, "join")) {
        return fail(cur_, "join queries are not supported: scanwatch runs single-event EQL "
                          "(CATEGORY where CONDITION), sequences and samples");
    }
    // A category is a name, bare or quoted, so it always prints back bare.
    bool valid = (cur_.kind == TokenKind::string && !cur_.raw) ||
                 (cur_.kind == TokenKind::name && !cur_.optional && !cur_.tilde);
    valid = valid && !cur_.text.empty() && is_name_start(cur_.text.front());
    for (char c : cur_.text) valid = valid && is_name_char(c) && c != '.';
    Token bare = cur_;
    bare.kind = TokenKind::name;
    bare.optional = false;
    if (!valid || is_keyword(bare) || is_word(bare, "sequence") || is_word(bare, "join") ||
        is_word(bare, "sample")) {
        return fail(cur_, fmt::format("expected an event category (process, file, network, any, "
                                      "...), found {}",
                                      describe(cur_)));
    }
    out.category = cur_.text;
    if (!advance()) return false;
    if (!is_word(cur_, "where")) {
        return fail(cur_, fmt::format("expected \"where\" after the event category, found {}",
                                      describe(cur_)));
    }
    if (!advance()) return false;
    if (cur_.kind == TokenKind::end) return fail(cur_, "expected a condition after \"where\"");
    if (!parse_or(out.root, 0)) return false;
    if (cur_.kind == TokenKind::end) return true;
    if (cur_.kind == TokenKind::rparen) {
        return fail(cur_, "unbalanced parenthesis: \")\" has no matching \"(\"");
    }
    return fail(cur_, fmt::format("expected \"and\", \"or\" or end of query, found {}",
                                  describe(cur_)));
}

bool Parser::parse_or(Expr& out, int depth) {
    std::vector<Expr> items(1);
    if (!parse_and(items.back(), depth)) return false;
    while (is_word(cur_, "or")) {
        if (!advance()) return false;
        items.emplace_back();
        if (!parse_and(items.back(), depth)) return false;
    }
    out = query::make_group(ExprKind::or_op, std::move(items));
    return true;
}

bool Parser::parse_and(Expr& out, int depth) {
    std::vector<Expr> items(1);
    if (!parse_not(items.back(), depth)) return false;
    while (is_word(cur_, "and")) {
        if (!advance()) return false;
        items.emplace_back();
        if (!parse_not(items.back(), depth)) return false;
    }
    out = query::make_group(ExprKind::and_op, std::move(items));
    return true;
}

bool Parser::parse_not(Expr& out, int depth) {
    if (!is_word(cur_, "not")) return parse_primary(out, depth);
    if (!enter(cur_, depth) || !advance()) return false;
    Expr operand;
    if (!parse_not(operand, depth + 1)) return false;
    out = query::make_not(std::move(operand));
    return true;
}

bool Parser::parse_primary(Expr& out, int depth) {
    if (cur_.kind == TokenKind::lparen) {
        if (!enter(cur_, depth)) return false;
        const Token open = cur_;
        if (!advance() || !parse_or(out, depth + 1)) return false;
        if (cur_.kind == TokenKind::rparen) return advance();
        if (cur_.kind == TokenKind::end) {
            return fail(open, "unbalanced parenthesis: this \"(\" is never closed");
        }
        return fail(cur_,
                    fmt::format("expected \"and\", \"or\" or \")\", found {}", describe(cur_)));
    }
    if (cur_.kind == TokenKind::name && !is_keyword(cur_)) {
        const Token* next = nullptr;
        if (!peek_next(next)) return false;
        if (next->kind == TokenKind::lparen && !cur_.optional) return parse_function(out);
        FieldRef field;
        return parse_field(field) && parse_comparison(field, out);
    }
    if (cur_.kind == TokenKind::string || cur_.kind == TokenKind::number || is_keyword(cur_)) {
        return fail(cur_, fmt::format("expected a field or function on the left of a comparison, "
                                      "found {}",
                                      describe(cur_)));
    }
    return fail(cur_, fmt::format("expected a condition, found {}", describe(cur_)));
}

bool Parser::parse_field(FieldRef& field) {
    if (cur_.kind != TokenKind::name || is_keyword(cur_) || cur_.tilde) {
        return fail(cur_, fmt::format("expected a field, found {}", describe(cur_)));
    }
    const int id = resolver_(cur_.text);
    if (id < 0 && !cur_.optional) {
        return fail(cur_, fmt::format("unknown field \"{}\" (write ?{} if events may lack it)",
                                      cur_.text, cur_.text));
    }
    field.id = id;
    field.name = cur_.text;
    field.optional = cur_.optional;
    if (id >= 0) note_field(id, field.name);
    return advance();
}

Expr Parser::string_match(const FieldRef& field, const std::string& value, bool wildcard,
                          bool fold) {
    query::Pattern p;
    if (wildcard) {
        std::string roles(value.size(), query::kLiteralByte);
        for (std::size_t i = 0; i < value.size(); ++i) {
            if (value[i] == '*' || value[i] == '?') roles[i] = value[i];
        }
        p = query::make_wildcard(value, roles, fold);
    } else {
        p = query::make_literal(value, fold);
    }
    Expr e = query::make_match(field.id, field.name, std::move(p));
    e.optional = field.optional;
    return e;
}

bool Parser::parse_comparison(const FieldRef& field, Expr& out) {
    if (cur_.kind == TokenKind::assign) {
        return fail(cur_, "\"=\" is not an operator; compare with \"==\"");
    }
    const Token op = cur_;
    if (op.kind == TokenKind::op) {
        if (!advance()) return false;
        if (op.text == "==" || op.text == "!=") return parse_equality(field, op, out);
        if (op.text == ":") return build_list(field, op, out);
        if (cur_.kind != TokenKind::number && cur_.kind != TokenKind::string) {
            return fail(cur_, fmt::format("expected a number or string after \"{}\", found {}",
                                          op.text, describe(cur_)));
        }
        out = query::make_leaf(ExprKind::compare, field.id, field.name);
        out.optional = field.optional;
        query::Comparison& c = out.comparison;
        c.op = op.text == "<"    ? CompareOp::lt
               : op.text == "<=" ? CompareOp::le
               : op.text == ">"  ? CompareOp::gt
                                 : CompareOp::ge;
        c.text = cur_.text;
        c.numeric = cur_.kind == TokenKind::number;
        if (c.numeric && !query::parse_number(c.text, c.number)) {
            return fail(cur_, fmt::format("number {} is out of range", describe(cur_)));
        }
        return advance();
    }
    if (is_word(cur_, "not")) {
        const Token* next = nullptr;
        if (!peek_next(next)) return false;
        if (next->kind == TokenKind::name && !next->optional && next->text == "in") {
            if (!advance()) return false;
            const Token in = cur_;
            if (!advance() || !build_list(field, in, out)) return false;
            out = query::make_not(std::move(out));
            return true;
        }
    }
    if (cur_.kind == TokenKind::name && !cur_.optional &&
        (cur_.text == "in" || cur_.text == "like" || cur_.text == "regex")) {
        const Token word = cur_;
        return advance() && build_list(field, word, out);
    }
    return fail(cur_, fmt::format("expected an operator (==, !=, <, <=, >, >=, :, in, like, regex) "
                                  "after field \"{}\", found {}",
                                  field.name, describe(cur_)));
}

bool Parser::parse_equality(const FieldRef& field, const Token& op, Expr& out) {
    const bool negate = op.text == "!=";
    if (is_word(cur_, "null")) {
        // `f != null`: the field has a value; `f == null`: it has none.
        out = query::make_leaf(ExprKind::exists, field.id, field.name);
        out.optional = field.optional;
        if (!negate) out = query::make_not(std::move(out));
        return advance();
    }
    if (cur_.kind == TokenKind::string || is_word(cur_, "true") || is_word(cur_, "false")) {
        out = string_match(field, cur_.text, false, false);
    } else if (cur_.kind == TokenKind::number) {
        out = query::make_leaf(ExprKind::compare, field.id, field.name);
        out.optional = field.optional;
        out.comparison.op = CompareOp::eq;
        out.comparison.numeric = true;
        out.comparison.text = cur_.text;
        if (!query::parse_number(cur_.text, out.comparison.number)) {
            return fail(cur_, fmt::format("number {} is out of range", describe(cur_)));
        }
    } else if (cur_.kind == TokenKind::name && !is_keyword(cur_) && !cur_.tilde) {
        FieldRef other;
        if (!parse_field(other)) return false;
        out = query::make_leaf(ExprKind::fields, field.id, field.name);
        out.optional = field.optional;
        out.other_id = other.id;
        out.other = other.name;
        out.other_optional = other.optional;
        if (negate) out = query::make_not(std::move(out));
        return true;
    } else {
        return fail(cur_, fmt::format("expected a value after \"{}\" (a string, number, true, "
                                      "false, null or field), found {}",
                                      op.text, describe(cur_)));
    }
    if (negate) out = query::make_not(std::move(out));
    return advance();
}

// A single value or a parenthesized, comma-separated list after `:`, in, like or regex.
bool Parser::parse_list(const FieldRef& field, const Token& op, std::vector<Token>& items) {
    const bool needs_list = op.text == "in";
    const bool numbers = op.text == "in" && !op.tilde;
    const auto value_ok = [&](const Token& t) {
        return t.kind == TokenKind::string || (numbers && t.kind == TokenKind::number);
    };
    const std::string what = numbers ? "a string or number" : "a string";
    const std::string name = op.text + (op.tilde ? "~" : "");
    if (cur_.kind != TokenKind::lparen) {
        if (needs_list) {
            return fail(cur_, fmt::format("expected \"(\" after \"{}\", found {}", name,
                                          describe(cur_)));
        }
        if (!value_ok(cur_)) {
            return fail(cur_, fmt::format("expected {} after \"{} {}\", found {}", what,
                                          field.name, name, describe(cur_)));
        }
        items.push_back(cur_);
        return advance();
    }
    const Token open = cur_;
    for (;;) {
        if (!advance()) return false;
        if (!value_ok(cur_)) {
            if (cur_.kind == TokenKind::end) {
                return fail(open, "unbalanced parenthesis: this \"(\" is never closed");
            }
            return fail(cur_, fmt::format("expected {} in the list of \"{} {}\", found {}", what,
                                          field.name, name, describe(cur_)));
        }
        items.push_back(cur_);
        if (!advance()) return false;
        if (cur_.kind == TokenKind::rparen) return advance();
        if (cur_.kind != TokenKind::comma) {
            if (cur_.kind == TokenKind::end) {
                return fail(open, "unbalanced parenthesis: this \"(\" is never closed");
            }
            return fail(cur_, fmt::format("expected \",\" or \")\" in the list of \"{} {}\", "
                                          "found {}",
                                          field.name, name, describe(cur_)));
        }
    }
}

bool Parser::build_list(const FieldRef& field, const Token& op, Expr& out) {
    std::vector<Token> items;
    if (!parse_list(field, op, items)) return false;
    if (op.text == "regex") {
        out = query::make_leaf(ExprKind::regex, field.id, field.name);
        out.optional = field.optional;
        for (const Token& t : items) {
            if (++regex_count_ > query::kMaxRegexesPerQuery) {
                return fail(t, fmt::format("too many regular expressions: the limit is {} per query",
                                           query::kMaxRegexesPerQuery));
            }
            query::RegexPattern re;
            std::string error;
            if (!query::make_regex(t.text, op.tilde, re, error)) return fail(t, error);
            out.regexes.push_back(std::move(re));
        }
        return true;
    }
    // `:` is case-insensitive with wildcards; like has wildcards; in compares whole values.
    const bool fold = op.text == ":" || op.tilde;
    const bool wildcard = op.text == ":" || op.text == "like";
    std::vector<Expr> alternatives;
    for (const Token& t : items) {
        if (t.kind == TokenKind::number) {
            Expr c = query::make_leaf(ExprKind::compare, field.id, field.name);
            c.optional = field.optional;
            c.comparison.numeric = true;
            c.comparison.text = t.text;
            if (!query::parse_number(t.text, c.comparison.number)) {
                return fail(t, fmt::format("number {} is out of range", describe(t)));
            }
            alternatives.push_back(std::move(c));
        } else {
            alternatives.push_back(string_match(field, t.text, wildcard, fold));
        }
    }
    out = query::make_group(ExprKind::or_op, std::move(alternatives));
    return true;
}

}  // namespace detail

std::variant<Parsed, QueryError> parse(std::string_view text, const FieldResolver& resolver) {
    detail::Parser parser(text, resolver);
    Parsed out;
    if (!parser.parse(out)) return parser.error();
    out.field_ids = parser.take_field_ids();
    out.field_names = parser.take_field_names();
    return out;
}

}  // namespace scanwatch::rules::eql
