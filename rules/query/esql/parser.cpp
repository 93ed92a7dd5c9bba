// ES|QL's grammar, the subset detection rules use (docs/rules.md, "ES|QL"): a hand-written lexer
// and a recursive-descent parser. Keywords are case-insensitive; `//` and `/* */` are comments.

#include <algorithm>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

#include "rules/query/esql/esql.h"
#include "rules/query/query.h"

namespace scanwatch::rules::esql {
namespace {

struct Token {
    enum class Kind { end, ident, string, integer, decimal, punct };
    Kind kind = Kind::end;
    std::string text;  ///< identifier (unquoted), string contents, number text or punctuation
    bool quoted = false;  ///< a `backquoted` identifier
    std::size_t begin = 0;
    std::size_t end = 0;
    int line = 1;
    int column = 1;
};

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool ident_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '@';
}
bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '@' || c == '.';
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    bool next(Token& t, QueryError& err) {
        skip_space();
        t = Token{};
        t.begin = pos_;
        t.line = line_;
        t.column = static_cast<int>(pos_ - line_start_) + 1;
        if (pos_ >= text_.size()) {
            t.end = pos_;
            return true;
        }
        const char c = text_[pos_];
        if (ident_start(c)) {
            t.kind = Token::Kind::ident;
            while (pos_ < text_.size() && ident_char(text_[pos_])) ++pos_;
            t.text = std::string(text_.substr(t.begin, pos_ - t.begin));
        } else if (c == '`') {
            t.kind = Token::Kind::ident;
            t.quoted = true;
            ++pos_;
            while (true) {
                if (pos_ >= text_.size()) return fail(t, "unterminated `quoted` name", err);
                if (text_[pos_] == '`') {
                    if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '`') {
                        t.text += '`';
                        pos_ += 2;
                        continue;
                    }
                    ++pos_;
                    break;
                }
                t.text += text_[pos_++];
            }
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            t.kind = Token::Kind::integer;
            while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
            if (pos_ + 1 < text_.size() && text_[pos_] == '.' &&
                std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
                t.kind = Token::Kind::decimal;
                ++pos_;
                while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
            }
            t.text = std::string(text_.substr(t.begin, pos_ - t.begin));
        } else if (c == '"') {
            if (!lex_string(t, err)) return false;
        } else {
            static constexpr const char* kTwo[] = {"==", "!=", "<=", ">=", "::"};
            t.kind = Token::Kind::punct;
            for (const char* two : kTwo) {
                if (text_.substr(pos_, 2) == two) {
                    t.text = two;
                    pos_ += 2;
                    t.end = pos_;
                    return true;
                }
            }
            if (std::strchr("|,()=<>+-*/%[]{}:.", c) == nullptr || c == '\0') {
                return fail(t, fmt::format("unexpected character '{}'", c), err);
            }
            t.text = std::string(1, c);
            ++pos_;
        }
        t.end = pos_;
        return true;
    }

private:
    static bool fail(const Token& at, std::string message, QueryError& err) {
        err = QueryError{std::move(message), at.line, at.column};
        return false;
    }

    void newline_at(std::size_t i) {
        ++line_;
        line_start_ = i + 1;
    }

    void skip_space() {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '\n') {
                newline_at(pos_);
                ++pos_;
            } else if (std::isspace(static_cast<unsigned char>(c))) {
                ++pos_;
            } else if (text_.substr(pos_, 2) == "//") {
                while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
            } else if (text_.substr(pos_, 2) == "/*") {
                const std::size_t close = text_.find("*/", pos_ + 2);
                const std::size_t stop = close == std::string_view::npos ? text_.size() : close + 2;
                for (std::size_t i = pos_; i < stop; ++i) {
                    if (text_[i] == '\n') newline_at(i);
                }
                pos_ = stop;
            } else {
                return;
            }
        }
    }

    bool lex_string(Token& t, QueryError& err) {
        t.kind = Token::Kind::string;
        if (text_.substr(pos_, 3) == R"(""")") {
            const std::size_t close = text_.find(R"(""")", pos_ + 3);
            if (close == std::string_view::npos) return fail(t, "unterminated \"\"\"string\"\"\"", err);
            std::size_t stop = close;
            // """a"""" ends at the last three quotes of the run
            while (stop + 3 < text_.size() && text_[stop + 3] == '"') ++stop;
            t.text = std::string(text_.substr(pos_ + 3, stop - pos_ - 3));
            for (std::size_t i = pos_; i < stop + 3; ++i) {
                if (text_[i] == '\n') newline_at(i);
            }
            pos_ = stop + 3;
            return true;
        }
        ++pos_;
        while (true) {
            if (pos_ >= text_.size() || text_[pos_] == '\n') return fail(t, "unterminated string", err);
            const char c = text_[pos_++];
            if (c == '"') return true;
            if (c != '\\') {
                t.text += c;
                continue;
            }
            if (pos_ >= text_.size()) return fail(t, "unterminated string", err);
            const char e = text_[pos_++];
            switch (e) {
                case 'n': t.text += '\n'; break;
                case 't': t.text += '\t'; break;
                case 'r': t.text += '\r'; break;
                case '"': t.text += '"'; break;
                case '\\': t.text += '\\'; break;
                default:
                    return fail(t, fmt::format("unknown escape \\{} in a string", e), err);
            }
        }
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    int line_ = 1;
    std::size_t line_start_ = 0;
};

// Valid ES|QL scanwatch does not run (the message says "not supported").
constexpr const char* kUnsupportedCommands[] = {
    "DISSECT", "GROK", "ENRICH", "LOOKUP", "COMPLETION", "FORK", "CHANGE_POINT", "SAMPLE",
    "RERANK", "INLINESTATS", "INLINE", "ROW", "SHOW", "METRICS", "TS", "FUSE", "INSIST", "RRF"};

// Scalar functions the evaluator knows (rules/query/esql/functions.cpp).
constexpr const char* kFunctions[] = {
    "TO_LOWER", "TO_UPPER", "CASE", "COALESCE", "CONCAT", "LENGTH", "SUBSTRING", "LOCATE",
    "STARTS_WITH", "ENDS_WITH", "TRIM", "LTRIM", "RTRIM", "REPLACE", "SPLIT", "SPACE", "REVERSE",
    "LEFT", "RIGHT", "TO_STRING", "TO_LONG", "TO_INTEGER", "TO_DOUBLE", "TO_IP", "TO_BOOLEAN",
    "CIDR_MATCH", "MV_COUNT", "MV_MIN", "MV_MAX", "MV_FIRST", "MV_LAST", "MV_CONCAT",
    "MV_DEDUPE", "MV_SLICE", "MV_SORT", "MV_SUM", "DATE_TRUNC", "DATE_DIFF", "NOW", "ABS",
    "ROUND", "GREATEST", "LEAST", "IP_PREFIX", "URL_DECODE"};

constexpr const char* kAggregates[] = {"COUNT", "COUNT_DISTINCT", "VALUES", "MIN", "MAX",
                                       "SUM", "AVG"};

bool one_of(std::string_view name, const char* const* begin, const char* const* end) {
    return std::any_of(begin, end, [name](const char* n) { return name == n; });
}
template <std::size_t N>
bool one_of(std::string_view name, const char* const (&list)[N]) {
    return one_of(name, list, list + N);
}

bool span_unit(std::string_view unit, std::int64_t& ms) {
    const std::string u = upper(unit);
    const auto is = [&u](const char* one, const char* many) { return u == one || u == many; };
    if (is("MILLISECOND", "MILLISECONDS") || u == "MS") ms = 1;
    else if (is("SECOND", "SECONDS") || u == "SEC" || u == "S") ms = 1000;
    else if (is("MINUTE", "MINUTES") || u == "MIN") ms = 60'000;
    else if (is("HOUR", "HOURS") || u == "H") ms = 3'600'000;
    else if (is("DAY", "DAYS") || u == "D") ms = 86'400'000;
    else if (is("WEEK", "WEEKS") || u == "W") ms = 7 * 86'400'000LL;
    else return false;
    return true;
}

constexpr int kMaxDepth = 64;
// Operators of one precedence in a row make a left-deep tree that evaluation walks recursively:
// the depth of any expression stays below kMaxDepth x kMaxChain.
constexpr int kMaxChain = 128;

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text), lexer_(text) {}

    std::variant<Pipeline, QueryError> run() {
        if (!advance() || !parse_from()) return error_;
        while (ok_ && is_punct("|")) {
            if (!advance() || !parse_command()) return error_;
        }
        if (ok_ && cur_.kind != Token::Kind::end) {
            fail(cur_, fmt::format("expected | or the end of the query, found {}", describe(cur_)));
        }
        if (!ok_) return error_;
        finish();
        return std::move(p_);
    }

private:
    // ---- tokens ----
    bool advance() {
        QueryError lex;
        if (!lexer_.next(cur_, lex)) return fail(lex.line, lex.column, lex.message);
        return true;
    }
    bool fail(int line, int column, std::string message) {
        if (ok_) error_ = QueryError{std::move(message), line, column};
        ok_ = false;
        return false;
    }
    bool fail(const Token& at, std::string message) {
        return fail(at.line, at.column, std::move(message));
    }
    static std::string describe(const Token& t) {
        switch (t.kind) {
            case Token::Kind::end: return "the end of the query";
            case Token::Kind::string: return fmt::format("string \"{}\"", t.text.substr(0, 40));
            default: return fmt::format("\"{}\"", t.text.substr(0, 40));
        }
    }
    bool is_punct(std::string_view p) const {
        return cur_.kind == Token::Kind::punct && cur_.text == p;
    }
    bool is_word(std::string_view w) const {
        return cur_.kind == Token::Kind::ident && !cur_.quoted && upper(cur_.text) == w;
    }
    bool expect_punct(std::string_view p) {
        if (!is_punct(p)) return fail(cur_, fmt::format("expected {}, found {}", p, describe(cur_)));
        return advance();
    }
    bool at_command_end() const { return cur_.kind == Token::Kind::end || is_punct("|"); }

    // A column name or KEEP/DROP pattern: identifier tokens and `*` written without spaces.
    bool parse_name(std::string& out, bool pattern) {
        if (cur_.kind != Token::Kind::ident && !(pattern && is_punct("*"))) {
            return fail(cur_, fmt::format("expected a column name, found {}", describe(cur_)));
        }
        out = cur_.text;
        std::size_t end = cur_.end;
        if (!advance()) return false;
        while (pattern && cur_.begin == end &&
               (is_punct("*") || (cur_.kind == Token::Kind::ident && !out.empty() &&
                                  out.back() == '*'))) {
            out += cur_.text;
            end = cur_.end;
            if (!advance()) return false;
        }
        return true;
    }

    // ---- FROM ----
    bool parse_from() {
        if (!is_word("FROM")) {
            return fail(cur_, fmt::format("an ES|QL rule's query starts with FROM, found {}",
                                          describe(cur_)));
        }
        if (!advance()) return false;
        while (true) {
            // An index pattern runs to a comma, a space or a pipe: logs-endpoint.events.*-*
            if (cur_.kind == Token::Kind::end || is_punct("|")) break;
            std::string pattern;
            std::size_t end = cur_.begin;
            while (cur_.kind != Token::Kind::end && !is_punct(",") && !is_punct("|") &&
                   cur_.begin == end) {
                pattern += cur_.kind == Token::Kind::string ? cur_.text : cur_.text;
                end = cur_.end;
                if (!advance()) return false;
                if (upper(pattern) == "METADATA") break;
            }
            if (upper(pattern) == "METADATA") return parse_metadata();
            if (pattern.empty()) return fail(cur_, "expected an index pattern after FROM");
            p_.indices.push_back(std::move(pattern));
            if (!is_punct(",")) break;
            if (!advance()) return false;
        }
        if (p_.indices.empty()) return fail(cur_, "FROM needs an index pattern");
        if (is_word("METADATA")) {
            if (!advance()) return false;
            return parse_metadata();
        }
        if (is_punct("[")) return fail(cur_, "FROM ... [METADATA ...] is not supported; write METADATA without brackets");
        return true;
    }
    bool parse_metadata() {
        while (true) {
            std::string name;
            if (!parse_name(name, false)) return false;
            p_.metadata.push_back(std::move(name));
            if (!is_punct(",")) return true;
            if (!advance()) return false;
        }
    }

    // ---- commands ----
    bool parse_command() {
        if (cur_.kind != Token::Kind::ident) {
            return fail(cur_, fmt::format("expected a command after |, found {}", describe(cur_)));
        }
        const std::string word = upper(cur_.text);
        Command c;
        c.line = cur_.line;
        if (one_of(word, kUnsupportedCommands)) {
            return fail(cur_, fmt::format("ES|QL command {} is not supported", word));
        }
        if (!advance()) return false;
        if (word == "WHERE") {
            c.kind = Command::Kind::where;
            if (!parse_expr(c.condition, 0)) return false;
        } else if (word == "EVAL") {
            c.kind = Command::Kind::eval;
            if (!parse_assignments(c.assignments, false)) return false;
        } else if (word == "STATS") {
            c.kind = Command::Kind::stats;
            if (!parse_stats(c)) return false;
        } else if (word == "MV_EXPAND") {
            c.kind = Command::Kind::mv_expand;
            std::string name;
            if (!parse_name(name, false)) return false;
            note_read(name);
            c.names.push_back(std::move(name));
        } else if (word == "KEEP" || word == "DROP") {
            c.kind = word == "KEEP" ? Command::Kind::keep : Command::Kind::drop;
            while (true) {
                std::string name;
                if (!parse_name(name, true)) return false;
                if (name.find('*') == std::string::npos) note_read(name);
                c.names.push_back(std::move(name));
                if (!is_punct(",")) break;
                if (!advance()) return false;
            }
        } else if (word == "RENAME") {
            c.kind = Command::Kind::rename;
            if (!parse_renames(c)) return false;
        } else if (word == "SORT") {
            c.kind = Command::Kind::sort;
            if (!parse_sort(c)) return false;
        } else if (word == "LIMIT") {
            c.kind = Command::Kind::limit;
            if (cur_.kind != Token::Kind::integer || !parse_long(cur_.text, c.limit)) {
                return fail(cur_, fmt::format("LIMIT needs a whole number, found {}", describe(cur_)));
            }
            if (!advance()) return false;
        } else {
            return fail(c.line, 1, fmt::format("unknown ES|QL command {}", word));
        }
        if (!at_command_end()) {
            return fail(cur_, fmt::format("unexpected {} in {}", describe(cur_), word));
        }
        p_.commands.push_back(std::move(c));
        return true;
    }

    bool parse_assignments(std::vector<Assignment>& out, bool in_stats) {
        while (true) {
            Assignment a;
            const std::size_t start = cur_.begin;
            // name = expr, or an expression named by its own text
            if (cur_.kind == Token::Kind::ident) {
                Lexer probe = lexer_;
                Token after;
                QueryError ignored;
                if (probe.next(after, ignored) && after.kind == Token::Kind::punct &&
                    after.text == "=") {
                    a.name = cur_.text;
                    if (!advance() || !advance()) return false;
                }
            }
            const std::size_t expr_start = cur_.begin;
            in_stats_ = in_stats;
            if (!parse_expr(a.expr, 0)) return false;
            in_stats_ = false;
            if (a.name.empty()) {
                a.name = std::string(text_.substr(expr_start, last_end_ - expr_start));
                if (a.expr.kind == Expr::Kind::column && a.expr.name.rfind("$agg", 0) != 0) {
                    a.name = a.expr.name;
                }
            }
            (void)start;
            out.push_back(std::move(a));
            if (!is_punct(",")) return true;
            if (!advance()) return false;
        }
    }

    bool parse_stats(Command& c) {
        aggregates_ = &c.aggregates;
        if (!is_word("BY")) {
            if (!parse_assignments(c.assignments, true)) return false;
        }
        aggregates_ = nullptr;
        if (is_word("BY")) {
            if (!advance()) return false;
            if (!parse_assignments(c.by, false)) return false;
        }
        if (c.assignments.empty() && c.by.empty()) return fail(cur_, "STATS needs an aggregate or BY");
        for (const Assignment& a : c.assignments) {
            if (!uses_aggregate(a.expr)) {
                return fail(a.expr.line, a.expr.column,
                            fmt::format("STATS output {} must use an aggregate function", a.name));
            }
        }
        return true;
    }

    static bool uses_aggregate(const Expr& e) {
        if (e.kind == Expr::Kind::column && e.name.rfind("$agg", 0) == 0) return true;
        return std::any_of(e.args.begin(), e.args.end(), uses_aggregate);
    }

    bool parse_renames(Command& c) {
        while (true) {
            std::string from, to;
            if (!parse_name(from, false)) return false;
            if (is_punct("=")) {  // RENAME new = old (ES|QL 9.1+)
                if (!advance() || !parse_name(to, false)) return false;
                std::swap(from, to);
            } else {
                if (!is_word("AS")) return fail(cur_, fmt::format("expected AS in RENAME, found {}", describe(cur_)));
                if (!advance() || !parse_name(to, false)) return false;
            }
            note_read(from);
            c.renames.emplace_back(std::move(from), std::move(to));
            if (!is_punct(",")) return true;
            if (!advance()) return false;
        }
    }

    bool parse_sort(Command& c) {
        while (true) {
            SortKey k;
            if (!parse_expr(k.expr, 0)) return false;
            if (is_word("ASC")) {
                if (!advance()) return false;
            } else if (is_word("DESC")) {
                k.descending = true;
                if (!advance()) return false;
            }
            k.nulls_first = k.descending;
            if (is_word("NULLS")) {
                if (!advance()) return false;
                if (is_word("FIRST")) k.nulls_first = true;
                else if (is_word("LAST")) k.nulls_first = false;
                else return fail(cur_, "expected FIRST or LAST after NULLS");
                if (!advance()) return false;
            }
            c.sort.push_back(std::move(k));
            if (!is_punct(",")) return true;
            if (!advance()) return false;
        }
    }

    // ---- expressions ----
    // Precedence, loosest first: OR, AND, NOT, predicates (comparison, IN, LIKE, RLIKE, IS
    // NULL), + -, * / %, unary -.
    bool parse_expr(Expr& out, int depth) { return parse_or(out, depth); }

    bool deeper(int depth) {
        if (depth < kMaxDepth) return true;
        return fail(cur_, fmt::format("expression nested deeper than {} levels", kMaxDepth));
    }

    Expr make(Expr::Kind kind, const Token& at) {
        Expr e;
        e.kind = kind;
        e.line = at.line;
        e.column = at.column;
        return e;
    }

    // An operator of a chain: a word (OR, AND; the node's op its lower case) or punctuation.
    struct ChainOp {
        std::string_view text;
        std::string_view op;  // the node's op; empty: the token's own text
    };
    const ChainOp* chain_op(std::initializer_list<ChainOp> ops, bool words) const {
        for (const ChainOp& o : ops) {
            if (words ? is_word(o.text) : is_punct(o.text)) return &o;
        }
        return nullptr;
    }

    // `operand (OPERATOR operand)*`, left-associative, as binary nodes: OR over AND, AND over
    // NOT, + and - over *, / and %.
    bool parse_chain(Expr& out, int depth, std::initializer_list<ChainOp> ops, bool words,
                     bool (Parser::*operand)(Expr&, int)) {
        if (!deeper(depth) || !(this->*operand)(out, depth + 1)) return false;
        int chain = 0;
        for (const ChainOp* o = chain_op(ops, words); o != nullptr; o = chain_op(ops, words)) {
            if (++chain > kMaxChain) return fail(cur_, fmt::format("more than {} operators in a row; use IN or parentheses", kMaxChain));
            Expr e = make(Expr::Kind::binary, cur_);
            e.op = o->op.empty() ? cur_.text : std::string(o->op);
            if (!advance()) return false;
            e.args.push_back(std::move(out));
            e.args.emplace_back();
            if (!(this->*operand)(e.args.back(), depth + 1)) return false;
            out = std::move(e);
        }
        return true;
    }

    bool parse_or(Expr& out, int depth) {
        return parse_chain(out, depth, {{"OR", "or"}}, true, &Parser::parse_and);
    }

    bool parse_and(Expr& out, int depth) {
        return parse_chain(out, depth, {{"AND", "and"}}, true, &Parser::parse_not);
    }

    bool parse_not(Expr& out, int depth) {
        if (!deeper(depth)) return false;
        if (is_word("NOT")) {
            Expr e = make(Expr::Kind::unary, cur_);
            e.op = "not";
            if (!advance()) return false;
            e.args.emplace_back();
            if (!parse_not(e.args.back(), depth + 1)) return false;
            out = std::move(e);
            return true;
        }
        return parse_predicate(out, depth + 1);
    }

    bool parse_predicate(Expr& out, int depth) {
        if (!parse_additive(out, depth)) return false;
        bool negated = false;
        if (is_word("NOT")) {
            negated = true;
            if (!advance()) return false;
            if (!is_word("IN") && !is_word("LIKE") && !is_word("RLIKE")) {
                return fail(cur_, fmt::format("expected IN, LIKE or RLIKE after NOT, found {}", describe(cur_)));
            }
        }
        if (is_word("IN")) {
            Expr e = make(Expr::Kind::in, cur_);
            e.negated = negated;
            if (!advance() || !expect_punct("(")) return false;
            e.args.push_back(std::move(out));
            while (true) {
                e.args.emplace_back();
                if (!parse_additive(e.args.back(), depth + 1)) return false;
                if (!is_punct(",")) break;
                if (!advance()) return false;
            }
            if (!expect_punct(")")) return false;
            out = std::move(e);
            return true;
        }
        if (is_word("LIKE") || is_word("RLIKE")) {
            Expr e = make(is_word("LIKE") ? Expr::Kind::like : Expr::Kind::rlike, cur_);
            e.negated = negated;
            if (!advance()) return false;
            const bool list = is_punct("(");
            if (list && !advance()) return false;
            while (true) {
                if (cur_.kind != Token::Kind::string) {
                    return fail(cur_, fmt::format("expected a pattern string, found {}", describe(cur_)));
                }
                e.patterns.push_back(cur_.text);
                if (!advance()) return false;
                if (!list || !is_punct(",")) break;
                if (!advance()) return false;
            }
            if (list && !expect_punct(")")) return false;
            e.args.push_back(std::move(out));
            out = std::move(e);
            return true;
        }
        if (is_word("IS")) {
            Expr e = make(Expr::Kind::is_null, cur_);
            if (!advance()) return false;
            if (is_word("NOT")) {
                e.negated = true;
                if (!advance()) return false;
            }
            if (!is_word("NULL")) return fail(cur_, fmt::format("expected NULL after IS, found {}", describe(cur_)));
            if (!advance()) return false;
            e.args.push_back(std::move(out));
            out = std::move(e);
            return true;
        }
        static constexpr const char* kCompare[] = {"==", "!=", "<", "<=", ">", ">="};
        if (cur_.kind == Token::Kind::punct && one_of(cur_.text, kCompare)) {
            Expr e = make(Expr::Kind::binary, cur_);
            e.op = cur_.text;
            if (!advance()) return false;
            e.args.push_back(std::move(out));
            e.args.emplace_back();
            if (!parse_additive(e.args.back(), depth + 1)) return false;
            out = std::move(e);
        } else if (is_punct("=")) {
            return fail(cur_, "= assigns; compare with ==");
        }
        return true;
    }

    bool parse_additive(Expr& out, int depth) {
        return parse_chain(out, depth, {{"+", {}}, {"-", {}}}, false, &Parser::parse_multiplicative);
    }

    bool parse_multiplicative(Expr& out, int depth) {
        return parse_chain(out, depth, {{"*", {}}, {"/", {}}, {"%", {}}}, false, &Parser::parse_unary);
    }

    bool parse_unary(Expr& out, int depth) {
        if (!deeper(depth)) return false;
        if (is_punct("-")) {
            Expr e = make(Expr::Kind::unary, cur_);
            e.op = "-";
            if (!advance()) return false;
            e.args.emplace_back();
            if (!parse_unary(e.args.back(), depth + 1)) return false;
            out = std::move(e);
            return true;
        }
        if (!parse_primary(out, depth + 1)) return false;
        if (is_punct("::")) return fail(cur_, "the :: cast is not supported; use TO_LONG, TO_STRING, ...");
        return true;
    }

    bool parse_primary(Expr& out, int depth) {
        const Token at = cur_;
        last_end_ = cur_.end;
        switch (cur_.kind) {
            case Token::Kind::end:
            case Token::Kind::punct:
                if (is_punct("(")) {
                    if (!advance() || !parse_expr(out, depth + 1)) return false;
                    last_end_ = cur_.end;
                    return expect_punct(")");
                }
                return fail(cur_, fmt::format("expected a value, found {}", describe(cur_)));
            case Token::Kind::string:
                out = make(Expr::Kind::literal, at);
                out.value = Value(Scalar(cur_.text));
                return advance();
            case Token::Kind::integer:
            case Token::Kind::decimal: return parse_number(out, at);
            case Token::Kind::ident: break;
        }
        const std::string word = upper(cur_.text);
        if (!cur_.quoted && (word == "TRUE" || word == "FALSE")) {
            out = make(Expr::Kind::literal, at);
            out.value = Value(Scalar(word == "TRUE"));
            return advance();
        }
        if (!cur_.quoted && word == "NULL") {
            out = make(Expr::Kind::literal, at);
            return advance();
        }
        std::string name = cur_.text;
        const bool quoted = cur_.quoted;
        if (!advance()) return false;
        if (!quoted && is_punct("(") && cur_.begin == at.end) return parse_call(out, at, word, depth);
        if (!quoted && is_punct("(")) return parse_call(out, at, word, depth);
        out = make(Expr::Kind::column, at);
        note_read(name);
        out.name = std::move(name);
        return true;
    }

    bool parse_number(Expr& out, const Token& at) {
        out = make(Expr::Kind::literal, at);
        if (cur_.kind == Token::Kind::integer) {
            std::int64_t n = 0;
            if (!parse_long(cur_.text, n)) return fail(cur_, fmt::format("number {} is too large", cur_.text));
            if (!advance()) return false;
            std::int64_t unit = 0;
            if (cur_.kind == Token::Kind::ident && !cur_.quoted && span_unit(cur_.text, unit)) {
                out.value = Value(Scalar(Span{n * unit}));
                last_end_ = cur_.end;
                return advance();
            }
            out.value = Value(Scalar(n));
            return true;
        }
        double d = 0;
        if (!parse_double(cur_.text, d)) return fail(cur_, fmt::format("bad number {}", cur_.text));
        out.value = Value(Scalar(d));
        return advance();
    }

    bool parse_call(Expr& out, const Token& at, const std::string& function, int depth) {
        if (!advance()) return false;  // (
        const bool aggregate = one_of(function, kAggregates);
        if (function == "KQL") return parse_kql(out, at);
        if (function == "QSTR" || function == "MATCH") {
            return fail(at, fmt::format("ES|QL function {}() is not supported", function));
        }
        if (aggregate && aggregates_ == nullptr) {
            return fail(at, fmt::format("{}() is an aggregate: only STATS may use it", function));
        }
        if (!aggregate && !one_of(function, kFunctions)) {
            return fail(at, fmt::format("ES|QL function {}() is not supported", function));
        }
        Expr call = make(Expr::Kind::call, at);
        call.name = function;
        bool star = false;
        if (aggregate && function == "COUNT" && is_punct("*")) {
            star = true;
            if (!advance()) return false;
        } else if (aggregate && function == "COUNT" && is_punct(")")) {
            star = true;
        } else if (!is_punct(")")) {
            std::vector<Aggregate>* saved = aggregates_;
            if (aggregate) aggregates_ = nullptr;  // no aggregate inside an aggregate
            while (true) {
                call.args.emplace_back();
                if (!parse_expr(call.args.back(), depth + 1)) return false;
                if (!is_punct(",")) break;
                if (!advance()) return false;
            }
            aggregates_ = saved;
        }
        last_end_ = cur_.end;
        if (!expect_punct(")")) return false;
        if (!aggregate) {
            out = std::move(call);
            return check_arity(out);
        }
        const bool two_args = function == "COUNT_DISTINCT";  // optional precision
        if (!star && (call.args.empty() || call.args.size() > (two_args ? 2u : 1u))) {
            return fail(at, fmt::format("{}() takes one argument", function));
        }
        Aggregate a;
        a.function = function;
        a.star = star;
        if (!star) a.arg = std::move(call.args.front());
        a.column = fmt::format("$agg{}", aggregates_->size());
        out = make(Expr::Kind::column, at);
        out.name = a.column;
        aggregates_->push_back(std::move(a));
        return true;
    }

    // KQL("query"): Kibana's KQL on the source document, as the query and EQL rules read it
    // (rules/query/query.h); its fields become source fields the rows carry.
    bool parse_kql(Expr& out, const Token& at) {
        if (cur_.kind != Token::Kind::string) {
            return fail(cur_, fmt::format("KQL() takes a query string, found {}", describe(cur_)));
        }
        Expr call = make(Expr::Kind::call, at);
        call.name = "KQL";
        std::vector<std::string>& names = call.patterns;
        const FieldResolver resolver = [this, &names](std::string_view name) {
            for (std::size_t i = 0; i < names.size(); ++i) {
                if (names[i] == name) return static_cast<int>(i);
            }
            names.emplace_back(name);
            note_read(names.back());
            return static_cast<int>(names.size() - 1);
        };
        auto parsed = Query::parse(cur_.text, resolver);
        if (const auto* e = std::get_if<QueryError>(&parsed)) {
            return fail(cur_, fmt::format("KQL(): {}", e->message));
        }
        call.kql = std::make_shared<const Query>(std::get<Query>(std::move(parsed)));
        if (!advance()) return false;
        last_end_ = cur_.end;
        if (!expect_punct(")")) return false;
        out = std::move(call);
        return true;
    }

    bool check_arity(const Expr& call) {
        struct Arity {
            const char* name;
            std::size_t min, max;
        };
        static constexpr Arity kArity[] = {
            {"TO_LOWER", 1, 1}, {"TO_UPPER", 1, 1}, {"LENGTH", 1, 1}, {"SUBSTRING", 2, 3},
            {"LOCATE", 2, 3}, {"STARTS_WITH", 2, 2}, {"ENDS_WITH", 2, 2}, {"TRIM", 1, 1},
            {"LTRIM", 1, 1}, {"RTRIM", 1, 1}, {"REPLACE", 3, 3}, {"SPLIT", 2, 2}, {"SPACE", 1, 1},
            {"REVERSE", 1, 1}, {"LEFT", 2, 2}, {"RIGHT", 2, 2}, {"TO_STRING", 1, 1},
            {"TO_LONG", 1, 1}, {"TO_INTEGER", 1, 1}, {"TO_DOUBLE", 1, 1}, {"TO_IP", 1, 1},
            {"TO_BOOLEAN", 1, 1}, {"CIDR_MATCH", 2, 1000}, {"MV_COUNT", 1, 1}, {"MV_MIN", 1, 1},
            {"MV_MAX", 1, 1}, {"MV_FIRST", 1, 1}, {"MV_LAST", 1, 1}, {"MV_CONCAT", 2, 2},
            {"MV_DEDUPE", 1, 1}, {"MV_SLICE", 2, 3}, {"MV_SORT", 1, 2}, {"MV_SUM", 1, 1},
            {"DATE_TRUNC", 2, 2}, {"DATE_DIFF", 3, 3}, {"NOW", 0, 0}, {"ABS", 1, 1},
            {"ROUND", 1, 2}, {"CONCAT", 1, 1000}, {"COALESCE", 1, 1000}, {"CASE", 1, 1000},
            {"GREATEST", 1, 1000}, {"LEAST", 1, 1000}, {"IP_PREFIX", 3, 3},
            {"URL_DECODE", 1, 1}};
        for (const Arity& a : kArity) {
            if (call.name != a.name) continue;
            if (call.args.size() < a.min || call.args.size() > a.max) {
                return fail(call.line, call.column,
                            fmt::format("{}() takes {} to {} arguments, got {}", call.name, a.min,
                                        a.max, call.args.size()));
            }
        }
        return true;
    }

    void note_read(const std::string& name) {
        if (name.rfind("$agg", 0) == 0) return;
        if (std::find(p_.reads.begin(), p_.reads.end(), name) == p_.reads.end()) {
            p_.reads.push_back(name);
        }
    }

    void finish() {
        std::size_t i = 0;
        for (; i < p_.commands.size(); ++i) {
            const auto k = p_.commands[i].kind;
            if (k == Command::Kind::stats || k == Command::Kind::sort || k == Command::Kind::limit) break;
        }
        p_.row_prefix = i;
        p_.aggregating = std::any_of(p_.commands.begin(), p_.commands.end(),
                                     [](const Command& c) { return c.kind == Command::Kind::stats; });
    }

    std::string_view text_;
    Lexer lexer_;
    Token cur_;
    bool ok_ = true;
    QueryError error_;
    Pipeline p_;
    std::vector<Aggregate>* aggregates_ = nullptr;
    bool in_stats_ = false;
    std::size_t last_end_ = 0;
};

}  // namespace

std::variant<Pipeline, QueryError> parse(std::string_view text) {
    return Parser(text).run();
}

}  // namespace scanwatch::rules::esql
