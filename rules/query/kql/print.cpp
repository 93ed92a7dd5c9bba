#include "rules/query/kql/print.h"

#include <fmt/format.h>

#include "rules/query/eql/parser.h"
#include "rules/query/text.h"
#include "rules/query/kql/lexer.h"

namespace scanwatch::rules::kql {
namespace {

using query::Expr;
using query::ExprKind;
using query::kLiteralByte;
using query::Pattern;

int precedence(const Expr& e) {
    switch (e.kind) {
        case ExprKind::or_op:
            return 1;
        case ExprKind::and_op:
            return 2;
        case ExprKind::not_op:
            return 3;
        case ExprKind::match:
            return e.patterns.size() > 1 ? 1 : 4;  // printed as `f:a or f:b`
        default:
            return 4;
    }
}

bool needs_quotes(std::string_view literal) {
    if (literal.empty() || is_keyword(literal)) return true;
    for (char c : literal) {
        if (ends_word(c) || escapable(c)) return true;
    }
    return false;
}

void print_quoted(std::string_view literal, std::string& out) {
    out += '"';
    for (char c : literal) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                out += c;
        }
    }
    out += '"';
}

void print_unquoted_byte(char c, std::string& out) {
    if (escapable(c) && !is_space(c)) {
        out += '\\';
        out += c;
    } else if (c == ' ') {
        out += "\\ ";
    } else if (c == '\n') {
        out += "\\n";
    } else if (c == '\r') {
        out += "\\r";
    } else if (c == '\t') {
        out += "\\t";
    } else if (is_space(c)) {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
        out += c;
    }
}

void print_pattern(const Pattern& p, std::string& out) {
    if (p.roles.empty()) {
        if (needs_quotes(p.bytes)) {
            print_quoted(p.bytes, out);
        } else {
            out += p.bytes;
        }
        return;
    }
    for (std::size_t i = 0; i < p.bytes.size(); ++i) {
        if (p.roles[i] == kLiteralByte) {
            print_unquoted_byte(p.bytes[i], out);
        } else {
            out += p.roles[i];
        }
    }
}

}  // namespace

void print(const Expr& e, std::string& out) {
    if (query_text::print_logic(e, out, precedence, print)) return;
    switch (e.kind) {
        case ExprKind::match:
            for (std::size_t i = 0; i < e.patterns.size(); ++i) {
                if (i > 0) out += " or ";
                out += e.field;
                out += ':';
                print_pattern(e.patterns[i], out);
            }
            break;
        case ExprKind::compare:
            if (!e.comparison.length_of && e.comparison.op != query::CompareOp::eq) {
                const query::CompareOp op = e.comparison.op;
                out += e.field;
                out += op == query::CompareOp::lt   ? " < "
                       : op == query::CompareOp::le ? " <= "
                       : op == query::CompareOp::gt ? " > "
                                                    : " >= ";
                print_pattern(query::make_literal(e.comparison.text), out);
                break;
            }
            eql::print(e, out);
            break;
        default:
            // Only EQL builds the other leaves, and an EQL query prints as EQL (Query).
            eql::print(e, out);
            break;
    }
}

}  // namespace scanwatch::rules::kql
