#include "rules/query/text.h"

#include <fmt/format.h>

namespace scanwatch::rules::query_text {

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0u) == 0x80u;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string cut(std::string_view text) {
    if (text.size() <= kMaxShownBytes) return std::string(text);
    std::size_t end = kMaxShownBytes;
    while (end > 0 && is_continuation(text[end])) --end;
    return std::string(text.substr(0, end)) + "...";
}

bool check_input(std::string_view text, bool has_resolver, QueryError& error) {
    if (!has_resolver) {
        error = QueryError{"no field resolver given", 1, 1};
        return false;
    }
    if (text.size() > kMaxQueryBytes) {
        error = QueryError{
            fmt::format("query too long: {} bytes, the limit is {}", text.size(), kMaxQueryBytes), 1, 1};
        return false;
    }
    return true;
}

bool print_logic(const query::Expr& e, std::string& out, int (*precedence)(const query::Expr&),
                 void (*print)(const query::Expr&, std::string&)) {
    if (e.kind != query::ExprKind::and_op && e.kind != query::ExprKind::or_op &&
        e.kind != query::ExprKind::not_op) {
        return false;
    }
    const auto operand = [&](const query::Expr& child, int min_precedence) {
        const bool parens = precedence(child) < min_precedence;
        if (parens) out += '(';
        print(child, out);
        if (parens) out += ')';
    };
    if (e.kind == query::ExprKind::not_op) {
        out += "not ";
        operand(e.children.front(), 3);
        return true;
    }
    const bool is_and = e.kind == query::ExprKind::and_op;
    for (std::size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) out += is_and ? " and " : " or ";
        operand(e.children[i], is_and ? 2 : 1);
    }
    return true;
}

void Cursor::advance(std::size_t count) {
    for (; count > 0 && pos_ < text_.size(); --count) {
        const char c = text_[pos_++];
        if (c == '\n') {
            ++line_;
            column_ = 1;
        } else if (!is_continuation(c)) {
            ++column_;
        }
    }
}

}  // namespace scanwatch::rules::query_text
