// EQL text for the shared query AST (rules/query/eql/parser.h print()).
#include <fmt/format.h>

#include "rules/query/eql/parser.h"
#include "rules/query/text.h"

namespace scanwatch::rules::eql {
namespace {

using query::Expr;
using query::ExprKind;
using query::Pattern;
using query::PatternKind;

bool has_wildcard_byte(std::string_view text) {
    return text.find_first_of("*?") != std::string_view::npos;
}

void print_string(std::string_view text, std::string& out) {
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                    out += fmt::format("\\u{{{:02x}}}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

// Regular expressions print raw when they can, so they read as written in the rule.
void print_regex_source(std::string_view text, std::string& out) {
    if (text.find("\"\"\"") == std::string_view::npos && (text.empty() || text.back() != '"')) {
        out += "\"\"\"";
        out += text;
        out += "\"\"\"";
    } else {
        print_string(text, out);
    }
}

void print_field(const Expr& e, std::string& out) {
    if (e.optional) out += '?';
    out += e.field;
}

void print_list(const std::vector<std::string_view>& items, std::string& out) {
    if (items.size() == 1) {
        print_string(items.front(), out);
        return;
    }
    out += '(';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        print_string(items[i], out);
    }
    out += ')';
}

// A pattern whose fixed part holds `*` or `?` cannot be written with like or `:` (they would
// become wildcards): it came from a function, and prints as one.
bool print_as_function(const Expr& e, const Pattern& p, std::string& out) {
    const char* name = p.kind == PatternKind::prefix   ? "startsWith"
                       : p.kind == PatternKind::suffix ? "endsWith"
                       : p.kind == PatternKind::contains ? "stringContains"
                                                         : nullptr;
    if (name == nullptr || !has_wildcard_byte(p.needle())) return false;
    out += name;
    if (p.fold) out += '~';
    out += '(';
    print_field(e, out);
    out += ", ";
    print_string(p.needle(), out);
    out += ')';
    return true;
}

// One operator per kind of pattern: == / in (exact), in~ (any case), like, like~.
void print_match(const Expr& e, std::string& out) {
    std::vector<std::string> parts;
    for (int group = 0; group < 4; ++group) {
        const bool fold = group % 2 == 1;
        const bool wildcard = group >= 2;
        std::vector<std::string_view> items;
        for (const Pattern& p : e.patterns) {
            std::string as_function;
            if (print_as_function(e, p, as_function)) {
                if (group == 0) parts.push_back(std::move(as_function));
                continue;
            }
            if (p.fold == fold && p.is_literal() == !wildcard) items.push_back(p.bytes);
        }
        if (items.empty()) continue;
        std::string part;
        print_field(e, part);
        if (!wildcard && !fold) {
            part += items.size() == 1 ? " == " : " in ";
            print_list(items, part);
        } else if (!wildcard) {
            part += " in~ (";
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (i > 0) part += ", ";
                print_string(items[i], part);
            }
            part += ')';
        } else {
            part += fold ? " like~ " : " like ";
            print_list(items, part);
        }
        parts.push_back(std::move(part));
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += " or ";
        out += parts[i];
    }
}

int precedence(const Expr& e) {
    switch (e.kind) {
        case ExprKind::or_op: return 1;
        case ExprKind::and_op: return 2;
        case ExprKind::not_op: return 3;
        default: break;
    }
    if (e.kind != ExprKind::match) return 4;
    // Patterns of several kinds print as an `or` of operators.
    int kinds = 0;
    bool seen[4] = {false, false, false, false};
    for (const Pattern& p : e.patterns) {
        const int k = (p.is_literal() ? 0 : 2) + (p.fold ? 1 : 0);
        const bool function = p.kind != PatternKind::literal && has_wildcard_byte(p.needle());
        if (function || !seen[k]) ++kinds;
        if (!function) seen[k] = true;
    }
    return kinds > 1 ? 1 : 4;
}

const char* op_text(query::CompareOp op) {
    switch (op) {
        case query::CompareOp::lt: return " < ";
        case query::CompareOp::le: return " <= ";
        case query::CompareOp::gt: return " > ";
        case query::CompareOp::ge: return " >= ";
        case query::CompareOp::eq: return " == ";
    }
    return " == ";
}

}  // namespace

void print(const Expr& e, std::string& out) {
    if (query_text::print_logic(e, out, precedence, print)) return;
    switch (e.kind) {
        case ExprKind::and_op:
        case ExprKind::or_op:
        case ExprKind::not_op:
            return;  // printed above
        case ExprKind::match:
            print_match(e, out);
            return;
        case ExprKind::regex: {
            print_field(e, out);
            out += e.regexes.front().fold ? " regex~ " : " regex ";
            if (e.regexes.size() > 1) out += '(';
            for (std::size_t i = 0; i < e.regexes.size(); ++i) {
                if (i > 0) out += ", ";
                print_regex_source(e.regexes[i].source, out);
            }
            if (e.regexes.size() > 1) out += ')';
            return;
        }
        case ExprKind::compare:
            if (e.comparison.length_of) out += "length(";
            print_field(e, out);
            if (e.comparison.length_of) out += ')';
            out += op_text(e.comparison.op);
            if (e.comparison.numeric) {
                out += e.comparison.text;
            } else {
                print_string(e.comparison.text, out);
            }
            return;
        case ExprKind::exists:
            print_field(e, out);
            out += " != null";
            return;
        case ExprKind::cidr:
            out += "cidrMatch(";
            print_field(e, out);
            for (const query::CidrRange& c : e.cidrs) {
                out += ", ";
                print_string(c.text, out);
            }
            out += ')';
            return;
        case ExprKind::fields: {
            const char* name = e.relation == query::FieldRelation::starts_with ? "startsWith"
                               : e.relation == query::FieldRelation::ends_with ? "endsWith"
                               : e.relation == query::FieldRelation::contains  ? "stringContains"
                                                                               : nullptr;
            if (name != nullptr) {
                out += name;
                if (e.fold) out += '~';
                out += '(';
            }
            print_field(e, out);
            out += name != nullptr ? ", " : " == ";
            if (e.other_optional) out += '?';
            out += e.other;
            if (name != nullptr) out += ')';
            return;
        }
    }
}

}  // namespace scanwatch::rules::eql
