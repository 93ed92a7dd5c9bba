// The EQL functions scanwatch runs (docs/rules.md, "EQL queries"): each compiles to a leaf of the
// shared AST, so a function costs what the equivalent operator does.
#include <utility>

#include <fmt/format.h>

#include "rules/query/eql/parser_state.h"

namespace scanwatch::rules::eql::detail {
namespace {

using query::ExprKind;

enum class Function : std::uint8_t {
    starts_with,
    ends_with,
    contains,
    wildcard,
    cidr_match,
    length,
    unknown
};

Function function_of(std::string_view name) {
    std::string lower(name);
    for (char& c : lower) c = query::ascii_lower(c);
    // EQL function names are matched in any case: Elastic's rules write both cidrMatch and cidrmatch.
    if (lower == "startswith") return Function::starts_with;
    if (lower == "endswith") return Function::ends_with;
    if (lower == "stringcontains") return Function::contains;
    if (lower == "wildcard") return Function::wildcard;
    if (lower == "cidrmatch") return Function::cidr_match;
    if (lower == "length") return Function::length;
    return Function::unknown;
}

}  // namespace

bool Parser::parse_args(const Token& fn, std::vector<Arg>& args) {
    const Token open = cur_;  // the "("
    if (!advance()) return false;
    if (cur_.kind == TokenKind::rparen) return advance();
    for (;;) {
        Arg arg;
        arg.token = cur_;
        if (cur_.kind == TokenKind::name && !is_keyword(cur_) && !cur_.tilde) {
            const Token* next = nullptr;
            if (!peek_next(next)) return false;
            if (next->kind == TokenKind::lparen) {
                return fail(cur_, fmt::format("function calls cannot be nested (in {})",
                                              describe(fn)));
            }
            arg.is_field = true;
            if (!parse_field(arg.field)) return false;
        } else if (cur_.kind == TokenKind::string || cur_.kind == TokenKind::number) {
            if (!advance()) return false;
        } else if (cur_.kind == TokenKind::end) {
            return fail(open, "unbalanced parenthesis: this \"(\" is never closed");
        } else {
            return fail(cur_, fmt::format("expected a field, string or number as an argument of "
                                          "{}, found {}",
                                          describe(fn), describe(cur_)));
        }
        args.push_back(std::move(arg));
        if (cur_.kind == TokenKind::rparen) return advance();
        if (cur_.kind != TokenKind::comma) {
            if (cur_.kind == TokenKind::end) {
                return fail(open, "unbalanced parenthesis: this \"(\" is never closed");
            }
            return fail(cur_, fmt::format("expected \",\" or \")\" in the arguments of {}, found {}",
                                          describe(fn), describe(cur_)));
        }
        if (!advance()) return false;
    }
}

// `fn(...) == true`, `fn(...) != false`: Elastic's rules sometimes compare a test with a boolean.
bool Parser::parse_bool_suffix(Expr& out) {
    if (cur_.kind != TokenKind::op || (cur_.text != "==" && cur_.text != "!=")) return true;
    const bool equal = cur_.text == "==";
    if (!advance()) return false;
    if (!is_word(cur_, "true") && !is_word(cur_, "false")) {
        return fail(cur_, fmt::format("a function's result compares only with true or false, "
                                      "found {}",
                                      describe(cur_)));
    }
    if (equal != (cur_.text == "true")) out = query::make_not(std::move(out));
    return advance();
}

bool Parser::parse_function(Expr& out) {
    const Token fn = cur_;
    const Function f = function_of(fn.text);
    if (f == Function::unknown) {
        return fail(fn, fmt::format("function \"{}\" is not supported (scanwatch runs startsWith, "
                                    "endsWith, stringContains, wildcard, cidrMatch and length)",
                                    fn.text));
    }
    if (fn.tilde && (f == Function::cidr_match || f == Function::length)) {
        return fail(fn, fmt::format("function \"{}\" has no case-insensitive form", fn.text));
    }
    if (!advance()) return false;
    std::vector<Arg> args;
    if (!parse_args(fn, args)) return false;
    const std::size_t want = f == Function::length ? 1 : 2;
    const bool variadic = f == Function::wildcard || f == Function::cidr_match;
    if (args.size() < want || (!variadic && args.size() > want)) {
        return fail(fn, fmt::format("{} takes {}{} argument{}, found {}", fn.text,
                                    variadic ? "at least " : "", want, want == 1 ? "" : "s",
                                    args.size()));
    }
    const Arg& subject = args.front();
    if (!subject.is_field) {
        return fail(subject.token, fmt::format("the first argument of {} must be a field, found {}",
                                               fn.text, describe(subject.token)));
    }
    const FieldRef& field = subject.field;
    if (f == Function::length) {
        if (cur_.kind != TokenKind::op || cur_.text == ":") {
            return fail(cur_, fmt::format("expected a comparison (==, !=, <, <=, >, >=) after "
                                          "length(...), found {}",
                                          describe(cur_)));
        }
        const Token op = cur_;
        if (!advance()) return false;
        if (cur_.kind != TokenKind::number) {
            return fail(cur_, fmt::format("length(...) compares with a number, found {}",
                                          describe(cur_)));
        }
        out = query::make_leaf(ExprKind::compare, field.id, field.name);
        out.optional = field.optional;
        query::Comparison& c = out.comparison;
        c.length_of = true;
        c.numeric = true;
        c.text = cur_.text;
        if (!query::parse_number(c.text, c.number)) {
            return fail(cur_, fmt::format("number {} is out of range", describe(cur_)));
        }
        using query::CompareOp;
        c.op = op.text == "<"    ? CompareOp::lt
               : op.text == "<=" ? CompareOp::le
               : op.text == ">"  ? CompareOp::gt
               : op.text == ">=" ? CompareOp::ge
                                 : CompareOp::eq;
        if (op.text == "!=") out = query::make_not(std::move(out));
        return advance();
    }
    for (std::size_t i = 1; i < args.size(); ++i) {
        const Arg& a = args[i];
        const bool field_ok = a.is_field && (f == Function::starts_with || f == Function::ends_with ||
                                             f == Function::contains);
        if (!field_ok && a.token.kind != TokenKind::string) {
            return fail(a.token, fmt::format("argument {} of {} must be a string{}, found {}", i + 1,
                                             fn.text, field_ok ? " or field" : "",
                                             describe(a.token)));
        }
    }
    const Arg& second = args[1];
    if (f == Function::cidr_match) {
        out = query::make_leaf(ExprKind::cidr, field.id, field.name);
        out.optional = field.optional;
        for (std::size_t i = 1; i < args.size(); ++i) {
            query::CidrRange range;
            if (!query::parse_cidr(args[i].token.text, range)) {
                return fail(args[i].token, fmt::format("invalid CIDR block {} (want a.b.c.d/n or "
                                                       "an IPv6 address/n)",
                                                       describe(args[i].token)));
            }
            out.cidrs.push_back(std::move(range));
        }
    } else if (second.is_field) {
        out = query::make_leaf(ExprKind::fields, field.id, field.name);
        out.optional = field.optional;
        out.relation = f == Function::starts_with ? query::FieldRelation::starts_with
                       : f == Function::ends_with ? query::FieldRelation::ends_with
                                                  : query::FieldRelation::contains;
        out.fold = fn.tilde;
        out.other_id = second.field.id;
        out.other = second.field.name;
        out.other_optional = second.field.optional;
    } else if (f == Function::wildcard) {
        std::vector<Expr> alternatives;
        for (std::size_t i = 1; i < args.size(); ++i) {
            alternatives.push_back(string_match(field, args[i].token.text, true, fn.tilde));
        }
        out = query::make_group(ExprKind::or_op, std::move(alternatives));
    } else {
        // A fixed part with a star before and/or after it: the pattern shapes prefix, suffix
        // and contains, which never run the general matcher.
        const std::string& text = second.token.text;
        std::string bytes;
        std::string roles;
        const bool lead = f != Function::starts_with;
        const bool trail = f != Function::ends_with;
        if (lead) bytes += '*', roles += query::kAnyRun;
        bytes += text;
        roles.append(text.size(), query::kLiteralByte);
        if (trail) bytes += '*', roles += query::kAnyRun;
        out = query::make_match(field.id, field.name, query::make_wildcard(bytes, roles, fn.tilde));
        out.optional = field.optional;
    }
    return parse_bool_suffix(out);
}

}  // namespace scanwatch::rules::eql::detail
