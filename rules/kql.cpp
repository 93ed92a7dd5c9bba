#include "rules/kql.h"

#include <cstddef>
#include <exception>
#include <utility>

#include <fmt/format.h>

namespace scanwatch::rules {
namespace {

constexpr std::size_t kMaxQueryBytes = 64 * 1024;
// Parentheses and `not` both recurse in the parser and in the matcher; bounding them bounds the
// stack whatever the input.
constexpr int kMaxDepth = 64;
// Long tokens are cut in messages so one bad token cannot flood a log line.
constexpr std::size_t kMaxShownBytes = 40;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

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

// What a backslash may escape in an unquoted value to stand for itself. `?` and space are not in
// Kibana's list: `?` is a wildcard here, and without `\ ` a wildcard pattern could not contain a
// space at all.
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
        case ' ':
            return true;
        default:
            return false;
    }
}

bool is_field_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
}

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

bool is_keyword(std::string_view word) {
    return iequals(word, "and") || iequals(word, "or") || iequals(word, "not");
}

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0u) == 0x80u;
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

std::string quote_for_message(std::string_view raw) {
    if (raw.size() <= kMaxShownBytes) return fmt::format("\"{}\"", raw);
    std::size_t cut = kMaxShownBytes;
    while (cut > 0 && is_continuation(raw[cut])) --cut;
    return fmt::format("\"{}...\"", raw.substr(0, cut));
}

// ---------------------------------------------------------------------------------------------
// Patterns

enum class PatternKind : std::uint8_t { literal, any, prefix, suffix, contains, general };

// The role of each pattern byte is kept beside the bytes rather than in-band, so a literal `*`
// or `?` (escaped or quoted) can never be taken for a wildcard.
constexpr char kLiteralByte = 'l';
constexpr char kAnyRun = '*';
constexpr char kAnyByte = '?';

struct Pattern {
    PatternKind kind = PatternKind::literal;
    std::string bytes;
    std::string roles;
    std::size_t needle_begin = 0;
    std::size_t needle_size = 0;

    std::string_view needle() const {
        return std::string_view(bytes).substr(needle_begin, needle_size);
    }
    bool matches(std::string_view value) const;
};

// Greedy two-pointer matching: on a mismatch only the most recent star is retried one byte
// further, which is enough because a later star can absorb whatever an earlier one could.
// O(pattern * value) at worst, no recursion.
bool wildcard_match(std::string_view pattern, std::string_view roles, std::string_view value) {
    constexpr std::size_t kNone = std::string_view::npos;
    std::size_t p = 0;
    std::size_t v = 0;
    std::size_t star = kNone;
    std::size_t resume = 0;
    while (v < value.size()) {
        if (p < pattern.size() && roles[p] != kAnyRun &&
            (roles[p] == kAnyByte || pattern[p] == value[v])) {
            ++p;
            ++v;
        } else if (p < pattern.size() && roles[p] == kAnyRun) {
            star = p++;
            resume = v;
        } else if (star != kNone) {
            p = star + 1;
            v = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && roles[p] == kAnyRun) ++p;
    return p == pattern.size();
}

bool Pattern::matches(std::string_view value) const {
    switch (kind) {
        case PatternKind::literal:
            return value == std::string_view(bytes);
        case PatternKind::any:
            return true;
        case PatternKind::prefix:
            return value.size() >= needle_size && value.compare(0, needle_size, needle()) == 0;
        case PatternKind::suffix:
            return value.size() >= needle_size &&
                   value.compare(value.size() - needle_size, needle_size, needle()) == 0;
        case PatternKind::contains:
            return value.find(needle()) != std::string_view::npos;
        case PatternKind::general:
            return wildcard_match(bytes, roles, value);
    }
    return false;
}

Pattern make_literal(std::string bytes) {
    Pattern p;
    p.bytes = std::move(bytes);
    p.needle_size = p.bytes.size();
    return p;
}

// Classifies once at parse time so the common shapes (`x`, `x*`, `*x`, `*x*`, `*`) never run
// the general matcher.
Pattern make_wildcard(std::string_view bytes, std::string_view roles) {
    Pattern p;
    std::size_t stars = 0;
    std::size_t ones = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        // A run of stars matches exactly what one star does.
        if (roles[i] == kAnyRun && !p.roles.empty() && p.roles.back() == kAnyRun) continue;
        p.bytes += bytes[i];
        p.roles += roles[i];
        if (roles[i] == kAnyRun) ++stars;
        if (roles[i] == kAnyByte) ++ones;
    }
    const std::size_t n = p.bytes.size();
    if (stars == 0 && ones == 0) {
        p.roles.clear();
        p.needle_size = n;
        return p;
    }
    p.kind = PatternKind::general;
    if (ones == 0) {
        const bool leading = p.roles.front() == kAnyRun;
        const bool trailing = p.roles.back() == kAnyRun;
        if (n == 1) {
            p.kind = PatternKind::any;
        } else if (stars == 1 && trailing) {
            p.kind = PatternKind::prefix;
            p.needle_size = n - 1;
        } else if (stars == 1 && leading) {
            p.kind = PatternKind::suffix;
            p.needle_begin = 1;
            p.needle_size = n - 1;
        } else if (stars == 2 && leading && trailing) {
            p.kind = PatternKind::contains;
            p.needle_begin = 1;
            p.needle_size = n - 2;
        }
    }
    return p;
}

bool is_literal(const Pattern& p) {
    return p.kind == PatternKind::literal;
}

// ---------------------------------------------------------------------------------------------
// Expressions

enum class ExprKind : std::uint8_t { and_op, or_op, not_op, match };

// A `match` node holds several patterns when the query ORs values of one field: one any_value()
// call then tests every value against all of them.
struct Expr {
    ExprKind kind = ExprKind::match;
    std::vector<Expr> children;
    int field_id = -1;
    std::string field;
    std::vector<Pattern> patterns;
};

bool eval(const Expr& e, const FieldAccessor& fields) {
    switch (e.kind) {
        case ExprKind::and_op:
            for (const Expr& child : e.children) {
                if (!eval(child, fields)) return false;
            }
            return true;
        case ExprKind::or_op:
            for (const Expr& child : e.children) {
                if (eval(child, fields)) return true;
            }
            return false;
        case ExprKind::not_op:
            return !eval(e.children.front(), fields);
        case ExprKind::match: {
            // One pointer of capture keeps the std::function in its small buffer: no allocation.
            const std::vector<Pattern>* patterns = &e.patterns;
            return fields.any_value(e.field_id, [patterns](std::string_view value) {
                for (const Pattern& p : *patterns) {
                    if (p.matches(value)) return true;
                }
                return false;
            });
        }
    }
    return false;
}

// Three-valued evaluation for static checks: a field the caller does not know may hold anything.
enum class Tri : std::uint8_t { no, yes, maybe };

Tri eval3(const Expr& e, const FieldAccessor& known, const std::function<bool(int)>& is_known) {
    switch (e.kind) {
        case ExprKind::and_op: {
            Tri out = Tri::yes;
            for (const Expr& child : e.children) {
                const Tri t = eval3(child, known, is_known);
                if (t == Tri::no) return Tri::no;
                if (t == Tri::maybe) out = Tri::maybe;
            }
            return out;
        }
        case ExprKind::or_op: {
            Tri out = Tri::no;
            for (const Expr& child : e.children) {
                const Tri t = eval3(child, known, is_known);
                if (t == Tri::yes) return Tri::yes;
                if (t == Tri::maybe) out = Tri::maybe;
            }
            return out;
        }
        case ExprKind::not_op:
            switch (eval3(e.children.front(), known, is_known)) {
                case Tri::no: return Tri::yes;
                case Tri::yes: return Tri::no;
                case Tri::maybe: return Tri::maybe;
            }
            return Tri::maybe;
        case ExprKind::match:
            if (!is_known(e.field_id)) return Tri::maybe;
            return eval(e, known) ? Tri::yes : Tri::no;
    }
    return Tri::maybe;
}

void add_operand(Expr& group, Expr item) {
    if (group.kind == ExprKind::or_op && item.kind == ExprKind::match && !group.children.empty()) {
        Expr& last = group.children.back();
        if (last.kind == ExprKind::match && last.field_id == item.field_id &&
            last.field == item.field) {
            for (Pattern& p : item.patterns) last.patterns.push_back(std::move(p));
            return;
        }
    }
    group.children.push_back(std::move(item));
}

// Adjacent ORed matches of one field are merged so a value list costs one any_value() call.
Expr make_group(ExprKind kind, std::vector<Expr> items) {
    if (items.size() == 1) return std::move(items.front());
    Expr group;
    group.kind = kind;
    for (Expr& item : items) {
        if (item.kind == kind) {
            for (Expr& child : item.children) add_operand(group, std::move(child));
        } else {
            add_operand(group, std::move(item));
        }
    }
    if (group.children.size() == 1) return std::move(group.children.front());
    return group;
}

Expr make_not(Expr operand) {
    Expr e;
    e.kind = ExprKind::not_op;
    e.children.push_back(std::move(operand));
    return e;
}

bool mentions(const Expr& e, int field_id) {
    if (e.kind == ExprKind::match) return e.field_id == field_id;
    for (const Expr& child : e.children) {
        if (mentions(child, field_id)) return true;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Printing

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
    }
    return 4;
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
    if (escapable(c)) {
        out += '\\';
        out += c;
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

void print(const Expr& e, std::string& out);

void print_operand(const Expr& e, int min_precedence, std::string& out) {
    const bool parens = precedence(e) < min_precedence;
    if (parens) out += '(';
    print(e, out);
    if (parens) out += ')';
}

void print(const Expr& e, std::string& out) {
    switch (e.kind) {
        case ExprKind::and_op:
        case ExprKind::or_op: {
            const bool is_and = e.kind == ExprKind::and_op;
            for (std::size_t i = 0; i < e.children.size(); ++i) {
                if (i > 0) out += is_and ? " and " : " or ";
                print_operand(e.children[i], is_and ? 2 : 1, out);
            }
            break;
        }
        case ExprKind::not_op:
            out += "not ";
            print_operand(e.children.front(), 3, out);
            break;
        case ExprKind::match:
            for (std::size_t i = 0; i < e.patterns.size(); ++i) {
                if (i > 0) out += " or ";
                out += e.field;
                out += ':';
                print_pattern(e.patterns[i], out);
            }
            break;
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

enum class TokenKind : std::uint8_t {
    word,
    quoted,
    lparen,
    rparen,
    colon,
    kw_and,
    kw_or,
    kw_not,
    end
};

struct Token {
    TokenKind kind = TokenKind::end;
    std::string text;
    std::string roles;     // left empty without a wildcard, so the value compiles to a literal
    bool escaped = false;  // an escaped word is never a keyword
    std::string_view raw;
    int line = 1;
    int column = 1;
};

std::string describe(const Token& t) {
    if (t.kind == TokenKind::end) return "end of query";
    if (t.kind == TokenKind::quoted) return "quoted value " + quote_for_message(t.text);
    return quote_for_message(t.raw);
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    bool next(Token& out, KqlError& error);

private:
    bool at_end() const { return pos_ >= text_.size(); }
    bool has(std::size_t ahead) const { return pos_ + ahead < text_.size(); }
    char peek(std::size_t ahead = 0) const { return text_[pos_ + ahead]; }
    void advance(std::size_t count = 1);
    bool hex4_at(std::size_t offset, std::uint32_t& unit) const;
    bool unicode_escape(std::string& out, KqlError& error);
    bool word(Token& out, KqlError& error);
    bool word_escape(Token& out, KqlError& error);
    bool quoted(Token& out, KqlError& error);
    KqlError error_here(std::string message) const { return {std::move(message), line_, column_}; }
    std::string_view char_at(std::size_t offset) const;

    std::string_view text_;
    std::size_t pos_ = 0;
    int line_ = 1;
    int column_ = 1;
};

void Lexer::advance(std::size_t count) {
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
bool Lexer::unicode_escape(std::string& out, KqlError& error) {
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

bool Lexer::next(Token& out, KqlError& error) {
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
            error =
                error_here(fmt::format("range queries are not supported (found \"{}\")", peek()));
            return false;
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

bool Lexer::quoted(Token& out, KqlError& error) {
    const KqlError unterminated = error_here("unterminated quoted value: no closing '\"'");
    out.kind = TokenKind::quoted;
    advance();
    for (;;) {
        if (at_end()) {
            error = unterminated;
            return false;
        }
        const char c = peek();
        if (c == '"') {
            advance();
            return true;
        }
        if (c == '\\' && has(1)) {
            const char e = peek(1);
            std::uint32_t unit = 0;
            if (e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't') {
                out.text += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
                advance(2);
                continue;
            }
            if (e == 'u' && hex4_at(pos_ + 2, unit)) {
                if (!unicode_escape(out.text, error)) return false;
                continue;
            }
            // Any other backslash stays as written, as in Kibana, so paths survive quoting.
        }
        out.text += c;
        advance();
    }
}

bool Lexer::word(Token& out, KqlError& error) {
    out.kind = TokenKind::word;
    bool wildcard = false;
    while (!at_end() && !ends_word(peek())) {
        const char c = peek();
        if (c == '\\') {
            if (!word_escape(out, error)) return false;
            out.escaped = true;
            continue;
        }
        if (c == '*' || c == '?') {
            wildcard = true;
            out.roles += c;
        } else {
            out.roles += kLiteralByte;
        }
        out.text += c;
        advance();
    }
    if (!wildcard) out.roles.clear();
    if (!wildcard && !out.escaped) {
        if (iequals(out.text, "and")) out.kind = TokenKind::kw_and;
        if (iequals(out.text, "or")) out.kind = TokenKind::kw_or;
        if (iequals(out.text, "not")) out.kind = TokenKind::kw_not;
    }
    return true;
}

bool Lexer::word_escape(Token& out, KqlError& error) {
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
            "\\ ( ) : < > \" * ? {{ }} or a space; quote the value to match it literally",
            char_at(pos_ + 1)));
        return false;
    }
    out.roles.append(out.text.size() - before, kLiteralByte);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Parser

struct FieldRef {
    int id = -1;
    std::string name;
};

// Recursive descent over a lazily lexed stream, so errors come out in text order: a lexical
// error after a syntax error is never reported first.
class Parser {
public:
    Parser(std::string_view text, const FieldResolver& resolver)
        : lexer_(text), resolver_(resolver) {}

    bool parse(Expr& out);
    const KqlError& error() const { return error_; }
    const std::vector<int>& field_ids() const { return field_ids_; }
    const std::vector<std::string>& field_names() const { return field_names_; }

private:
    bool advance();
    bool peek_next(const Token*& next);
    bool fail(int line, int column, std::string message);
    bool fail(const Token& at, std::string message) {
        return fail(at.line, at.column, std::move(message));
    }
    bool enter(const Token& at, int depth);
    bool parse_or(Expr& out, int depth);
    bool parse_and(Expr& out, int depth);
    bool parse_not(Expr& out, int depth);
    bool parse_primary(Expr& out, int depth);
    bool parse_term(Expr& out, int depth);
    bool parse_field(FieldRef& field);
    bool parse_values(const FieldRef& field, Expr& out, int depth);
    bool parse_value_or(const FieldRef& field, Expr& out, int depth);
    bool parse_value_and(const FieldRef& field, Expr& out, int depth);
    bool parse_value_not(const FieldRef& field, Expr& out, int depth);
    bool parse_value_primary(const FieldRef& field, Expr& out, int depth);
    bool close_group(const Token& open, std::string_view context);
    Expr leaf(const FieldRef& field) const;
    void note_field(int id, const std::string& name);

    Lexer lexer_;
    const FieldResolver& resolver_;
    Token cur_;
    Token next_;
    bool has_next_ = false;
    bool failed_ = false;
    KqlError error_;
    std::vector<int> field_ids_;
    std::vector<std::string> field_names_;
};

bool Parser::fail(int line, int column, std::string message) {
    // Only the first error counts: later ones are consequences of it.
    if (!failed_) error_ = KqlError{std::move(message), line, column};
    failed_ = true;
    return false;
}

bool Parser::advance() {
    if (has_next_) {
        cur_ = std::move(next_);
        has_next_ = false;
        return true;
    }
    KqlError lex_error;
    if (!lexer_.next(cur_, lex_error))
        return fail(lex_error.line, lex_error.column, lex_error.message);
    return true;
}

bool Parser::peek_next(const Token*& next) {
    if (!has_next_) {
        KqlError lex_error;
        if (!lexer_.next(next_, lex_error)) {
            return fail(lex_error.line, lex_error.column, lex_error.message);
        }
        has_next_ = true;
    }
    next = &next_;
    return true;
}

bool Parser::enter(const Token& at, int depth) {
    if (depth < kMaxDepth) return true;
    return fail(at, fmt::format("nesting too deep: more than {} levels of parentheses and \"not\"",
                                kMaxDepth));
}

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

bool Parser::parse_or(Expr& out, int depth) {
    std::vector<Expr> items(1);
    if (!parse_and(items.back(), depth)) return false;
    while (cur_.kind == TokenKind::kw_or) {
        if (!advance()) return false;
        items.emplace_back();
        if (!parse_and(items.back(), depth)) return false;
    }
    out = make_group(ExprKind::or_op, std::move(items));
    return true;
}

bool Parser::parse_and(Expr& out, int depth) {
    std::vector<Expr> items(1);
    if (!parse_not(items.back(), depth)) return false;
    while (cur_.kind == TokenKind::kw_and) {
        if (!advance()) return false;
        items.emplace_back();
        if (!parse_not(items.back(), depth)) return false;
    }
    out = make_group(ExprKind::and_op, std::move(items));
    return true;
}

bool Parser::parse_not(Expr& out, int depth) {
    if (cur_.kind != TokenKind::kw_not) return parse_primary(out, depth);
    if (!enter(cur_, depth) || !advance()) return false;
    Expr operand;
    if (!parse_not(operand, depth + 1)) return false;
    out = make_not(std::move(operand));
    return true;
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
    if (next->kind != TokenKind::colon) {
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
    note_field(id, field.name);
    return advance() && advance();
}

bool Parser::parse_term(Expr& out, int depth) {
    FieldRef field;
    if (!parse_field(field)) return false;
    return parse_values(field, out, depth);
}

void Parser::note_field(int id, const std::string& name) {
    for (int known : field_ids_) {
        if (known == id) return;
    }
    field_ids_.push_back(id);
    field_names_.push_back(name);
}

Expr Parser::leaf(const FieldRef& field) const {
    Expr e;
    e.field_id = field.id;
    e.field = field.name;
    if (cur_.kind == TokenKind::word && !cur_.roles.empty()) {
        e.patterns.push_back(make_wildcard(cur_.text, cur_.roles));
    } else {
        e.patterns.push_back(make_literal(cur_.text));
    }
    return e;
}

bool Parser::parse_values(const FieldRef& field, Expr& out, int depth) {
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
    std::vector<Expr> items(1);
    if (!parse_value_and(field, items.back(), depth)) return false;
    while (cur_.kind == TokenKind::kw_or) {
        if (!advance()) return false;
        items.emplace_back();
        if (!parse_value_and(field, items.back(), depth)) return false;
    }
    out = make_group(ExprKind::or_op, std::move(items));
    return true;
}

bool Parser::parse_value_and(const FieldRef& field, Expr& out, int depth) {
    std::vector<Expr> items(1);
    if (!parse_value_not(field, items.back(), depth)) return false;
    while (cur_.kind == TokenKind::kw_and) {
        if (!advance()) return false;
        items.emplace_back();
        if (!parse_value_not(field, items.back(), depth)) return false;
    }
    out = make_group(ExprKind::and_op, std::move(items));
    return true;
}

bool Parser::parse_value_not(const FieldRef& field, Expr& out, int depth) {
    if (cur_.kind != TokenKind::kw_not) return parse_value_primary(field, out, depth);
    if (!enter(cur_, depth) || !advance()) return false;
    Expr operand;
    if (!parse_value_not(field, operand, depth + 1)) return false;
    out = make_not(std::move(operand));
    return true;
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

struct KqlQuery::Node {
    Expr expr;
};

std::variant<KqlQuery, KqlError> KqlQuery::parse(std::string_view text,
                                                 const FieldResolver& resolver) {
    // The resolver is caller code and allocation can fail: neither may escape as an exception.
    try {
        if (!resolver) return KqlError{"no field resolver given", 1, 1};
        if (text.size() > kMaxQueryBytes) {
            return KqlError{fmt::format("query too long: {} bytes, the limit is {}", text.size(),
                                        kMaxQueryBytes),
                            1, 1};
        }
        Parser parser(text, resolver);
        auto node = std::make_shared<Node>();
        if (!parser.parse(node->expr)) return parser.error();
        KqlQuery query;
        query.root_ = std::move(node);
        query.field_ids_ = parser.field_ids();
        query.field_names_ = parser.field_names();
        return query;
    } catch (const std::exception& e) {
        return KqlError{fmt::format("cannot parse query: {}", e.what()), 1, 1};
    } catch (...) {
        return KqlError{"cannot parse query: unknown error", 1, 1};
    }
}

bool KqlQuery::matches(const FieldAccessor& fields) const {
    return root_ != nullptr && eval(root_->expr, fields);
}

const std::vector<int>& KqlQuery::field_ids() const {
    return field_ids_;
}

std::string KqlQuery::to_string() const {
    std::string out;
    if (root_) print(root_->expr, out);
    return out;
}

bool KqlQuery::may_match(const FieldAccessor& known,
                         const std::function<bool(int)>& is_known) const {
    return root_ != nullptr && eval3(root_->expr, known, is_known) != Tri::no;
}

bool KqlQuery::must_match(const FieldAccessor& known,
                          const std::function<bool(int)>& is_known) const {
    return root_ != nullptr && eval3(root_->expr, known, is_known) == Tri::yes;
}

std::vector<std::string> KqlQuery::required_values(int field_id) const {
    if (!root_) return {};
    const Expr& root = root_->expr;
    const Expr* best = nullptr;
    const auto consider = [&](const Expr& conjunct) {
        if (!mentions(conjunct, field_id)) return true;
        if (conjunct.kind != ExprKind::match) return false;
        for (const Pattern& p : conjunct.patterns) {
            if (!is_literal(p)) return false;
        }
        // Each such conjunct alone is a necessary condition; intersecting them would be wrong for
        // a field with several values (`f:a and f:b` holds for [a, b]), so keep the smallest.
        if (best == nullptr || conjunct.patterns.size() < best->patterns.size()) best = &conjunct;
        return true;
    };
    if (root.kind == ExprKind::and_op) {
        for (const Expr& conjunct : root.children) {
            if (!consider(conjunct)) return {};
        }
    } else if (!consider(root)) {
        return {};
    }
    std::vector<std::string> values;
    if (best == nullptr) return values;
    for (const Pattern& p : best->patterns) {
        bool seen = false;
        for (const std::string& v : values) seen = seen || v == p.bytes;
        if (!seen) values.push_back(p.bytes);
    }
    return values;
}

}  // namespace scanwatch::rules
