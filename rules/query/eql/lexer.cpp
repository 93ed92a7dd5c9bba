#include "rules/query/eql/lexer.h"

#include <fmt/format.h>

namespace scanwatch::rules::eql {
namespace {

using query_text::append_utf8;
using query_text::cut;
using query_text::hex_value;
using query_text::is_continuation;
using query_text::is_space;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

}  // namespace

bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '@';
}

bool is_name_char(char c) {
    return is_name_start(c) || is_digit(c) || c == '.';
}

std::string describe(const Token& t) {
    if (t.kind == TokenKind::end) return "end of query";
    if (t.kind == TokenKind::string) return fmt::format("string \"{}\"", cut(t.text));
    return fmt::format("\"{}\"", cut(t.source));
}

bool Lexer::skip_space(QueryError& error) {
    for (;;) {
        while (!at_end() && is_space(peek())) advance();
        if (peek() == '/' && peek(1) == '/') {
            while (!at_end() && peek() != '\n') advance();
        } else if (peek() == '/' && peek(1) == '*') {
            const QueryError open = error_here("unterminated comment: no closing \"*/\"");
            advance(2);
            while (!at_end() && !(peek() == '*' && peek(1) == '/')) advance();
            if (at_end()) {
                error = open;
                return false;
            }
            advance(2);
        } else {
            return true;
        }
    }
}

bool Lexer::next(Token& out, QueryError& error) {
    out = Token{};
    if (!skip_space(error)) return false;
    out.line = line_;
    out.column = column_;
    if (at_end()) return true;
    const std::size_t start = pos_;
    const char c = peek();
    const char c2 = peek(1);
    if (c == '(' || c == ')' || c == ',') {
        out.kind = c == '(' ? TokenKind::lparen : c == ')' ? TokenKind::rparen : TokenKind::comma;
        advance();
    } else if (c == '[' || c == ']') {
        out.kind = c == '[' ? TokenKind::lbracket : TokenKind::rbracket;
        advance();
    } else if (c == '!' && c2 == '[') {
        out.kind = TokenKind::bang;
        advance();
    } else if (c == '=' && c2 != '=') {
        out.kind = TokenKind::assign;
        advance();
    } else if ((c == '=' || c == '!') && c2 == '=') {
        out.kind = TokenKind::op;
        advance(2);
    } else if (c == '<' || c == '>') {
        out.kind = TokenKind::op;
        advance(c2 == '=' ? 2 : 1);
    } else if (c == ':') {
        out.kind = TokenKind::op;
        advance();
    } else if (c == '"') {
        if (!string(out, error)) return false;
    } else if (is_digit(c) || (c == '-' && is_digit(c2)) || (c == '.' && is_digit(c2))) {
        number(out);
    } else if (is_name_start(c) || (c == '?' && is_name_start(c2))) {
        if (!name(out, error)) return false;
    } else {
        std::size_t end = pos_ + 1;
        while (end < text_.size() && is_continuation(text_[end])) ++end;
        const std::string_view what = text_.substr(pos_, end - pos_);
        if (c == '|') {
            error = error_here("pipes (\"|\") are not supported: scanwatch runs single-event EQL");
        } else if (c == '\'') {
            error = error_here("single-quoted strings are not supported; use double quotes");
        } else if (c == '`') {
            error = error_here("quoted field names (`...`) are not supported");
        } else {
            error = error_here(fmt::format("unexpected character \"{}\"", what));
        }
        return false;
    }
    out.source = text_.substr(start, pos_ - start);
    if (out.kind == TokenKind::op) out.text = std::string(out.source);
    return true;
}

bool Lexer::name(Token& out, QueryError& error) {
    out.kind = TokenKind::name;
    if (peek() == '?') {
        out.optional = true;
        advance();
    }
    while (!at_end() && is_name_char(peek())) {
        out.text += peek();
        advance();
    }
    if (out.text.back() == '.') {
        error = error_here(fmt::format("field name \"{}\" ends with \".\"", cut(out.text)));
        return false;
    }
    if (peek() == '~') {
        out.tilde = true;
        advance();
    }
    return true;
}

void Lexer::number(Token& out) {
    out.kind = TokenKind::number;
    const auto take_digits = [&] {
        while (is_digit(peek())) {
            out.text += peek();
            advance();
        }
    };
    if (peek() == '-') {
        out.text += '-';
        advance();
    }
    take_digits();
    if (peek() == '.' && is_digit(peek(1))) {
        out.text += '.';
        advance();
        take_digits();
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (is_digit(peek(1)) || ((peek(1) == '-' || peek(1) == '+') && is_digit(peek(2))))) {
        out.text += peek();
        advance();
        if (peek() == '-' || peek() == '+') {
            out.text += peek();
            advance();
        }
        take_digits();
    }
}

bool Lexer::string(Token& out, QueryError& error) {
    out.kind = TokenKind::string;
    if (peek(1) == '"' && peek(2) == '"') return raw_string(out, error);
    return read_quoted(out.text, error, "unterminated string: no closing '\"'", [&] {
        return escape(out.text, error) ? Escape::read : Escape::failed;
    });
}

// `"""..."""`: no escapes at all, so regular expressions and Windows paths read as written.
bool Lexer::raw_string(Token& out, QueryError& error) {
    const QueryError unterminated = error_here("unterminated string: no closing '\"\"\"'");
    out.raw = true;
    advance(3);
    const std::size_t close = text_.find("\"\"\"", pos_);
    if (close == std::string_view::npos) {
        error = unterminated;
        return false;
    }
    out.text = std::string(text_.substr(pos_, close - pos_));
    advance(close - pos_ + 3);
    return true;
}

bool Lexer::escape(std::string& out, QueryError& error) {
    const char e = peek(1);
    switch (e) {
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case '"':
        case '\'':
        case '\\':
            out += e;
            break;
        case 'u': {
            // \u{X...}: 2 to 8 hex digits naming a Unicode code point.
            std::size_t i = 2;
            std::uint32_t cp = 0;
            bool ok = peek(i) == '{';
            for (++i; ok && peek(i) != '}'; ++i) {
                const int digit = hex_value(peek(i));
                ok = digit >= 0 && i < 11;
                cp = (cp << 4) | static_cast<std::uint32_t>(digit < 0 ? 0 : digit);
            }
            ok = ok && i >= 5 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
            if (!ok) {
                error = error_here(
                    "invalid unicode escape: write \\u{XX} with 2 to 8 hex digits of a code point");
                return false;
            }
            append_utf8(out, cp);
            advance(i + 1);
            return true;
        }
        default: {
            std::size_t end = pos_ + 2;
            while (end < text_.size() && is_continuation(text_[end])) ++end;
            error = error_here(fmt::format(
                "invalid escape \"{}\" in a string: use \\\\ for a backslash, or a raw string "
                "\"\"\"...\"\"\"",
                at_end() || pos_ + 1 >= text_.size() ? std::string_view("\\")
                                                     : text_.substr(pos_, end - pos_)));
            return false;
        }
    }
    advance(2);
    return true;
}

}  // namespace scanwatch::rules::eql
