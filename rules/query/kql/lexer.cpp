#include "rules/query/kql/lexer.h"

#include <utility>

#include <fmt/format.h>

#include "rules/query/pattern.h"

namespace scanwatch::rules::kql {
namespace {

using query_text::append_utf8;
using query_text::hex_value;

using query::kLiteralByte;

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != b[i]) return false;
    }
    return true;
}

std::string quote_for_message(std::string_view raw) {
    return "\"" + query_text::cut(raw) + "\"";
}

}  // namespace

bool ends_word(char c) {
    switch (c) {
        case '(':
        case ')':
        case '"':
        case ':':
        case '{':
        case '}':
        case '<':
        case '>':
            return true;
        default:
            return is_space(c);
    }
}

// What a backslash may escape in an unquoted value to stand for itself. `?` and whitespace are not
// in Kibana's list; scanwatch takes them too (`?` needs no escape: KQL's only wildcard is `*`).
bool escapable(char c) {
    switch (c) {
        case '\\':
        case '(':
        case ')':
        case ':':
        case '<':
        case '>':
        case '"':
        case '*':
        case '?':
        case '{':
        case '}':
            return true;
        default:
            return is_space(c);
    }
}

bool is_field_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
}

bool is_keyword(std::string_view word) {
    return iequals(word, "and") || iequals(word, "or") || iequals(word, "not");
}

std::string describe(const Token& t) {
    if (t.kind == TokenKind::end) return "end of query";
    if (t.kind == TokenKind::quoted) return "quoted value " + quote_for_message(t.text);
    return quote_for_message(t.raw);
}

// The whole UTF-8 character at `offset`, so messages never show half a character.
std::string_view Lexer::char_at(std::size_t offset) const {
    std::size_t end = offset + 1;
    while (end < text_.size() && is_continuation(text_[end])) ++end;
    return text_.substr(offset, end - offset);
}

bool Lexer::hex4_at(std::size_t offset, std::uint32_t& unit) const {
    if (offset + 4 > text_.size()) return false;
    unit = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const int digit = hex_value(text_[offset + i]);
        if (digit < 0) return false;
        unit = unit * 16 + static_cast<std::uint32_t>(digit);
    }
    return true;
}

// At `\uXXXX` (hex already checked). Kibana writes UTF-16 code units, so a character outside
// the BMP arrives as a surrogate pair of two escapes.
bool Lexer::unicode_escape(std::string& out, QueryError& error) {
    std::uint32_t unit = 0;
    hex4_at(pos_ + 2, unit);
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        std::uint32_t low = 0;
        if (has(7) && peek(6) == '\\' && peek(7) == 'u' && hex4_at(pos_ + 8, low) &&
            low >= 0xDC00 && low <= 0xDFFF) {
            append_utf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
            advance(12);
            return true;
        }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
        error = error_here(fmt::format("invalid unicode escape \"{}\": unpaired surrogate",
                                       text_.substr(pos_, 6)));
        return false;
    }
    append_utf8(out, unit);
    advance(6);
    return true;
}

bool Lexer::next(Token& out, QueryError& error) {
    out = Token{};
    while (!at_end() && is_space(peek())) advance();
    out.line = line_;
    out.column = column_;
    if (at_end()) {
        out.kind = TokenKind::end;
        return true;
    }
    const std::size_t start = pos_;
    switch (peek()) {
        case '(':
            out.kind = TokenKind::lparen;
            advance();
            break;
        case ')':
            out.kind = TokenKind::rparen;
            advance();
            break;
        case ':':
            out.kind = TokenKind::colon;
            advance();
            break;
        case '<':
        case '>':
            out.kind = TokenKind::range;
            out.text += peek();
            advance();
            if (!at_end() && peek() == '=') {
                out.text += '=';
                advance();
            }
            break;
        case '{':
        case '}':
            error =
                error_here(fmt::format("nested queries are not supported (found \"{}\")", peek()));
            return false;
        case '"':
            if (!quoted(out, error)) return false;
            break;
        default:
            if (!word(out, error)) return false;
            break;
    }
    out.raw = text_.substr(start, pos_ - start);
    return true;
}

bool Lexer::quoted(Token& out, QueryError& error) {
    out.kind = TokenKind::quoted;
    return read_quoted(out.text, error, "unterminated quoted value: no closing '\"'", [&] {
        if (!has(1)) return Escape::literal;
        const char e = peek(1);
        std::uint32_t unit = 0;
        if (e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't') {
            out.text += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
            advance(2);
            return Escape::read;
        }
        if (e == 'u' && hex4_at(pos_ + 2, unit)) {
            return unicode_escape(out.text, error) ? Escape::read : Escape::failed;
        }
        // Any other backslash stays as written, as in Kibana, so paths survive quoting.
        return Escape::literal;
    });
}

// Kibana's grammar (kbn-es-query grammar.peggy, UnquotedLiteral) keeps whitespace inside an
// unquoted value: `process.args:(* 1*)` is the one value `* 1*`. The value stops before
// whitespace followed by a keyword (`or`, `and`, `not` as a whole word), by a character that ends
// a word (`(`, `)`, `:`, a quote, ...), or by the end; leading and trailing whitespace are not
// part of it. A keyword itself never takes the words after it (`not a:b`).
bool Lexer::value_goes_on() const {
    std::size_t at = pos_;
    while (at < text_.size() && is_space(text_[at])) ++at;
    if (at == pos_ || at >= text_.size() || ends_word(text_[at])) return false;
    std::size_t end = at;
    while (end < text_.size() && !ends_word(text_[end])) ++end;
    if (is_keyword(text_.substr(at, end - at))) return false;
    // A word followed by `:` or a range operator is a field whose `and` / `or` is missing: Kibana
    // refuses that too, and the parser's message then names it.
    while (end < text_.size() && is_space(text_[end])) ++end;
    return end >= text_.size() || (text_[end] != ':' && text_[end] != '<' && text_[end] != '>');
}

bool Lexer::word(Token& out, QueryError& error) {
    out.kind = TokenKind::word;
    bool wildcard = false;
    for (;;) {
        while (!at_end() && !ends_word(peek())) {
            const char c = peek();
            if (c == '\\') {
                if (!word_escape(out, error)) return false;
                out.escaped = true;
                continue;
            }
            // `*` is KQL's only wildcard; `?` is a literal character (Kibana's grammar).
            if (c == '*') {
                wildcard = true;
                out.roles += c;
            } else {
                out.roles += kLiteralByte;
            }
            out.text += c;
            advance();
        }
        const bool keyword = !wildcard && !out.escaped && is_keyword(out.text);
        if (keyword || !value_goes_on()) break;
        while (is_space(peek())) {
            out.text += peek();
            out.roles += kLiteralByte;
            advance();
        }
    }
    if (!wildcard) out.roles.clear();
    if (!wildcard && !out.escaped) {
        if (iequals(out.text, "and")) out.kind = TokenKind::kw_and;
        if (iequals(out.text, "or")) out.kind = TokenKind::kw_or;
        if (iequals(out.text, "not")) out.kind = TokenKind::kw_not;
    }
    return true;
}

bool Lexer::word_escape(Token& out, QueryError& error) {
    const std::size_t before = out.text.size();
    if (!has(1)) {
        error = error_here("a backslash at the end of the query escapes nothing");
        return false;
    }
    const char e = peek(1);
    std::uint32_t unit = 0;
    if (escapable(e)) {
        out.text += e;
        advance(2);
    } else if (e == 'n' || e == 'r' || e == 't') {
        out.text += e == 'n' ? '\n' : e == 'r' ? '\r' : '\t';
        advance(2);
    } else if (e == 'u') {
        if (!hex4_at(pos_ + 2, unit)) {
            error = error_here("invalid unicode escape: \\u needs 4 hex digits");
            return false;
        }
        if (!unicode_escape(out.text, error)) return false;
    } else if (iequals(text_.substr(pos_ + 1, 2), "or")) {
        // Kibana's escaped keyword: `\or` is the value "or", not the operator.
        out.text.append(text_.substr(pos_ + 1, 2));
        advance(3);
    } else if (iequals(text_.substr(pos_ + 1, 3), "and")) {
        out.text.append(text_.substr(pos_ + 1, 3));
        advance(4);
    } else {
        error = error_here(fmt::format(
            "invalid escape \"\\{}\" in unquoted value: a backslash escapes one of "
            "\\ ( ) : < > \" * ? {{ }} or whitespace; quote the value to match it literally",
            char_at(pos_ + 1)));
        return false;
    }
    out.roles.append(out.text.size() - before, kLiteralByte);
    return true;
}

}  // namespace scanwatch::rules::kql
