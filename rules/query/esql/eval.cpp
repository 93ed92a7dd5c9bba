// Evaluation of ES|QL expressions and commands over rows (docs/rules.md, "ES|QL"). Null and
// multi-value semantics are ES|QL's: a comparison, arithmetic, LIKE, IN or single-value function
// on a null or multi-valued operand is null, and WHERE keeps only rows whose condition is true.

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <re2/re2.h>

#include "rules/query/esql/esql.h"

namespace scanwatch::rules::esql {
namespace {

const std::string* str(const Value& v) {
    const Scalar* s = v.single();
    return s != nullptr ? std::get_if<std::string>(s) : nullptr;
}

bool as_long(const Value& v, std::int64_t& out) {
    const Scalar* s = v.single();
    if (s == nullptr) return false;
    if (const auto* i = std::get_if<std::int64_t>(s)) {
        out = *i;
        return true;
    }
    if (const auto* d = std::get_if<double>(s)) {
        if (!std::isfinite(*d) || std::fabs(*d) > 9e18) return false;
        out = static_cast<std::int64_t>(*d);
        return true;
    }
    return false;
}

Value boolean(bool b) { return Value(Scalar(b)); }

// ES|QL LIKE: `*` any run, `?` one character, `\` escapes. Iterative with one back-track point:
// linear in practice, never recursive.
bool like(std::string_view text, std::string_view pattern) {
    std::size_t t = 0, p = 0, star_p = std::string_view::npos, star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size()) {
            char pc = pattern[p];
            if (pc == '*') {
                star_p = ++p;
                star_t = t;
                continue;
            }
            bool escaped = false;
            if (pc == '\\' && p + 1 < pattern.size()) {
                pc = pattern[p + 1];
                escaped = true;
            }
            if ((!escaped && pc == '?') || pc == text[t]) {
                p += escaped ? 2 : 1;
                ++t;
                continue;
            }
        }
        if (star_p == std::string_view::npos) return false;
        p = star_p;
        t = ++star_t;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

// Compiled regular expressions, by pattern text (RE2: linear time). Bounded: cleared when full.
const RE2* regex(const std::string& pattern) {
    static std::mutex mutex;
    static std::unordered_map<std::string, std::unique_ptr<RE2>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(pattern);
    if (it == cache.end()) {
        if (cache.size() >= 1024) cache.clear();
        RE2::Options options;
        options.set_log_errors(false);
        options.set_max_mem(1 << 20);
        it = cache.emplace(pattern, std::make_unique<RE2>(pattern, options)).first;
    }
    return it->second->ok() ? it->second.get() : nullptr;
}

// An IPv4 or IPv6 address as 16 bytes (IPv4 mapped), or false.
bool parse_ip(const std::string& text, unsigned char out[16], bool& v4) {
    in_addr a4{};
    if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
        std::memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        std::memcpy(out + 12, &a4, 4);
        v4 = true;
        return true;
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
        std::memcpy(out, &a6, 16);
        v4 = false;
        return true;
    }
    return false;
}

bool cidr_contains(const std::string& cidr, const unsigned char ip[16], bool ip_v4) {
    const std::size_t slash = cidr.find('/');
    unsigned char net[16];
    bool net_v4 = false;
    if (!parse_ip(cidr.substr(0, slash), net, net_v4)) return false;
    std::int64_t bits = net_v4 ? 32 : 128;
    if (slash != std::string::npos && !parse_long(std::string_view(cidr).substr(slash + 1), bits)) return false;
    if (net_v4 != ip_v4 && !(net_v4 && ip_v4)) {
        if (net_v4 || ip_v4) return false;
    }
    if (bits < 0 || bits > (net_v4 ? 32 : 128)) return false;
    if (net_v4) bits += 96;
    for (std::int64_t i = 0; i < bits; ++i) {
        const int byte = static_cast<int>(i / 8), bit = 7 - static_cast<int>(i % 8);
        if (((net[byte] >> bit) & 1) != ((ip[byte] >> bit) & 1)) return false;
    }
    return true;
}

Value map_items(const Value& v, const std::function<bool(const Scalar&, Scalar&)>& f) {
    Value out;
    for (const Scalar& s : v.items) {
        Scalar r;
        if (f(s, r)) out.items.push_back(std::move(r));
    }
    return out;
}

std::string lower_upper(std::string s, bool to_upper) {
    for (char& c : s) {
        c = static_cast<char>(to_upper ? std::toupper(static_cast<unsigned char>(c))
                                       : std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// UTF-8 code points of `s` (ES|QL's LENGTH, SUBSTRING and LOCATE count characters).
std::vector<std::size_t> char_starts(const std::string& s) {
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
    }
    return starts;
}

Value call(const Expr& e, const Row& row, std::int64_t now_ms);

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
    const Scalar* x = a.single();
    const Scalar* y = b.single();
    if (x == nullptr || y == nullptr) return {};
    const auto* ix = std::get_if<std::int64_t>(x);
    const auto* iy = std::get_if<std::int64_t>(y);
    if (ix != nullptr && iy != nullptr) {
        std::int64_t r = 0;
        if (op == "+" && !__builtin_add_overflow(*ix, *iy, &r)) return Value(Scalar(r));
        if (op == "-" && !__builtin_sub_overflow(*ix, *iy, &r)) return Value(Scalar(r));
        if (op == "*" && !__builtin_mul_overflow(*ix, *iy, &r)) return Value(Scalar(r));
        if (*iy == 0 || (*ix == std::numeric_limits<std::int64_t>::min() && *iy == -1)) return {};
        if (op == "/") return Value(Scalar(*ix / *iy));
        if (op == "%") return Value(Scalar(*ix % *iy));
        return {};
    }
    if (const auto* dx = std::get_if<Date>(x)) {
        if (const auto* sy = std::get_if<Span>(y)) {
            if (op == "+") return Value(Scalar(Date{dx->ms + sy->ms}));
            if (op == "-") return Value(Scalar(Date{dx->ms - sy->ms}));
        }
        return {};
    }
    double dx = 0, dy = 0;
    const auto num = [](const Scalar& s, double& d) {
        if (const auto* i = std::get_if<std::int64_t>(&s)) d = static_cast<double>(*i);
        else if (const auto* f = std::get_if<double>(&s)) d = *f;
        else return false;
        return true;
    };
    if (!num(*x, dx) || !num(*y, dy)) return {};
    double r = 0;
    if (op == "+") r = dx + dy;
    else if (op == "-") r = dx - dy;
    else if (op == "*") r = dx * dy;
    else if (op == "/") r = dx / dy;
    else r = std::fmod(dx, dy);
    if (!std::isfinite(r)) return {};
    return Value(Scalar(r));
}

Value comparison(const std::string& op, const Value& a, const Value& b) {
    const Scalar* x = a.single();
    const Scalar* y = b.single();
    if (x == nullptr || y == nullptr) return {};
    int order = 0;
    if (!compare(*x, *y, order)) return {};
    if (op == "==") return boolean(order == 0);
    if (op == "!=") return boolean(order != 0);
    if (op == "<") return boolean(order < 0);
    if (op == "<=") return boolean(order <= 0);
    if (op == ">") return boolean(order > 0);
    return boolean(order >= 0);
}

// A truth value: 1 true, 0 false, -1 null (or not a boolean).
int truth(const Value& v) {
    const Scalar* s = v.single();
    if (s == nullptr) return -1;
    const auto* b = std::get_if<bool>(s);
    return b == nullptr ? -1 : (*b ? 1 : 0);
}

Value tri(int t) { return t < 0 ? Value() : boolean(t == 1); }

}  // namespace

bool keeps(const Expr& condition, const Row& row, std::int64_t now_ms) {
    return truth(evaluate(condition, row, now_ms)) == 1;
}

bool columns_read(const Expr& e, std::vector<std::string>& names) {
    if (e.kind == Expr::Kind::call && e.name == "KQL") {
        // Its fields, by field id.
        names.insert(names.end(), e.patterns.begin(), e.patterns.end());
        return e.kql != nullptr;
    }
    if (e.kind == Expr::Kind::column) names.push_back(e.name);
    for (const Expr& a : e.args) {
        if (!columns_read(a, names)) return false;
    }
    return true;
}

namespace {

// The value of an operand, without a copy when it is a column or a literal (the common case:
// `process.name == "nc"`); otherwise evaluated into `scratch`.
const Value& operand(const Expr& e, const Row& row, std::int64_t now_ms, Value& scratch) {
    if (e.kind == Expr::Kind::literal) return e.value;
    if (e.kind == Expr::Kind::column) {
        if (const Value* v = row.find(e.name)) return *v;
        scratch = Value();
        return scratch;
    }
    scratch = evaluate(e, row, now_ms);
    return scratch;
}

}  // namespace

Value evaluate(const Expr& e, const Row& row, std::int64_t now_ms) {
    switch (e.kind) {
        case Expr::Kind::literal: return e.value;
        case Expr::Kind::column: {
            const Value* v = row.find(e.name);
            return v != nullptr ? *v : Value();
        }
        case Expr::Kind::call: return call(e, row, now_ms);
        case Expr::Kind::unary: {
            const Value v = evaluate(e.args[0], row, now_ms);
            if (e.op == "not") {
                const int t = truth(v);
                return tri(t < 0 ? -1 : 1 - t);
            }
            return arithmetic("-", Value(Scalar(std::int64_t{0})), v);
        }
        case Expr::Kind::binary: {
            if (e.op == "and" || e.op == "or") {
                const int a = truth(evaluate(e.args[0], row, now_ms));
                const bool is_and = e.op == "and";
                if (a == (is_and ? 0 : 1)) return boolean(!is_and);
                const int b = truth(evaluate(e.args[1], row, now_ms));
                if (b == (is_and ? 0 : 1)) return boolean(!is_and);
                if (a < 0 || b < 0) return {};
                return boolean(is_and);
            }
            Value scratch_a;
            Value scratch_b;
            const Value& a = operand(e.args[0], row, now_ms, scratch_a);
            const Value& b = operand(e.args[1], row, now_ms, scratch_b);
            if (e.op.size() == 1 && std::strchr("+-*/%", e.op[0]) != nullptr) return arithmetic(e.op, a, b);
            return comparison(e.op, a, b);
        }
        case Expr::Kind::in: {
            Value scratch;
            const Value& left = operand(e.args[0], row, now_ms, scratch);
            if (left.single() == nullptr) return {};
            bool saw_null = false;
            Value item;
            for (std::size_t i = 1; i < e.args.size(); ++i) {
                const int t = truth(comparison("==", left, operand(e.args[i], row, now_ms, item)));
                if (t == 1) return boolean(!e.negated);
                if (t < 0) saw_null = true;
            }
            if (saw_null) return {};
            return boolean(e.negated);
        }
        case Expr::Kind::like:
        case Expr::Kind::rlike: {
            Value scratch;
            const Value& v = operand(e.args[0], row, now_ms, scratch);
            const std::string* s = str(v);
            if (s == nullptr) return {};
            bool any = false;
            for (const std::string& p : e.patterns) {
                if (e.kind == Expr::Kind::like) {
                    any = like(*s, p);
                } else {
                    const RE2* re = regex(p);
                    if (re == nullptr) return {};
                    any = RE2::FullMatch(*s, *re);
                }
                if (any) break;
            }
            return boolean(any != e.negated);
        }
        case Expr::Kind::is_null: {
            const bool null = evaluate(e.args[0], row, now_ms).is_null();
            return boolean(null != e.negated);
        }
    }
    return {};
}

namespace {

// A row as KQL's field accessor: field id i is the KQL() call's i-th field name; values as
// their text (a long 22 matches `destination.port:22`).
class RowFields final : public FieldAccessor {
public:
    RowFields(const Row& row, const std::vector<std::string>& names) : row_(row), names_(names) {}
    bool any_value(int field_id, const std::function<bool(std::string_view)>& visit) const override {
        if (field_id < 0 || static_cast<std::size_t>(field_id) >= names_.size()) return false;
        const Value* v = row_.find(names_[static_cast<std::size_t>(field_id)]);
        if (v == nullptr) return false;
        for (const Scalar& s : v->items) {
            if (visit(to_text(s))) return true;
        }
        return false;
    }

private:
    const Row& row_;
    const std::vector<std::string>& names_;
};

Value call(const Expr& e, const Row& row, std::int64_t now_ms) {
    const std::string& f = e.name;
    if (f == "KQL") return e.kql ? boolean(e.kql->matches(RowFields(row, e.patterns))) : Value();
    if (f == "CASE") {
        std::size_t i = 0;
        for (; i + 1 < e.args.size(); i += 2) {
            if (truth(evaluate(e.args[i], row, now_ms)) == 1) return evaluate(e.args[i + 1], row, now_ms);
        }
        return i < e.args.size() ? evaluate(e.args[i], row, now_ms) : Value();
    }
    if (f == "COALESCE") {
        for (const Expr& a : e.args) {
            Value v = evaluate(a, row, now_ms);
            if (!v.is_null()) return v;
        }
        return {};
    }
    if (f == "NOW") return Value(Scalar(Date{now_ms}));
    std::vector<Value> a;
    a.reserve(e.args.size());
    for (const Expr& x : e.args) a.push_back(evaluate(x, row, now_ms));

    // Multi-value functions take the whole value.
    if (f == "MV_COUNT") {
        if (a[0].is_null()) return {};
        return Value(Scalar(static_cast<std::int64_t>(a[0].items.size())));
    }
    if (f == "MV_MIN" || f == "MV_MAX") {
        if (a[0].is_null()) return {};
        const auto cmp = [](const Scalar& x, const Scalar& y) { return total_order(x, y) < 0; };
        return Value(f == "MV_MIN" ? *std::min_element(a[0].items.begin(), a[0].items.end(), cmp)
                                   : *std::max_element(a[0].items.begin(), a[0].items.end(), cmp));
    }
    if (f == "MV_FIRST" || f == "MV_LAST") {
        if (a[0].is_null()) return {};
        return Value(f == "MV_FIRST" ? a[0].items.front() : a[0].items.back());
    }
    if (f == "MV_CONCAT") {
        const std::string* sep = str(a[1]);
        if (a[0].is_null() || sep == nullptr) return {};
        std::string out;
        for (std::size_t i = 0; i < a[0].items.size(); ++i) {
            if (i > 0) out += *sep;
            out += to_text(a[0].items[i]);
        }
        return Value(Scalar(std::move(out)));
    }
    if (f == "MV_DEDUPE") {
        Value out;
        for (const Scalar& s : a[0].items) {
            if (std::none_of(out.items.begin(), out.items.end(),
                             [&s](const Scalar& x) { return total_order(x, s) == 0 && x.index() == s.index(); })) {
                out.items.push_back(s);
            }
        }
        return out;
    }
    if (f == "MV_SORT") {
        Value out = a[0];
        bool desc = false;
        if (a.size() > 1) {
            const std::string* order = str(a[1]);
            if (order == nullptr) return {};
            desc = lower_upper(*order, true) == "DESC";
        }
        std::stable_sort(out.items.begin(), out.items.end(), [desc](const Scalar& x, const Scalar& y) {
            return desc ? total_order(y, x) < 0 : total_order(x, y) < 0;
        });
        return out;
    }
    if (f == "MV_SLICE") {
        std::int64_t start = 0, end = 0;
        if (a[0].is_null() || !as_long(a[1], start)) return {};
        end = start;
        if (a.size() > 2 && !as_long(a[2], end)) return {};
        const auto n = static_cast<std::int64_t>(a[0].items.size());
        if (start < 0) start += n;
        if (end < 0) end += n;
        start = std::max<std::int64_t>(start, 0);
        end = std::min<std::int64_t>(end, n - 1);
        Value out;
        for (std::int64_t i = start; i <= end; ++i) out.items.push_back(a[0].items[static_cast<std::size_t>(i)]);
        return out;
    }
    if (f == "MV_SUM") {
        Value sum(Scalar(std::int64_t{0}));
        for (const Scalar& s : a[0].items) sum = arithmetic("+", sum, Value(s));
        return a[0].is_null() ? Value() : sum;
    }
    // Element-wise conversions accept multi-values.
    if (f == "TO_LOWER" || f == "TO_UPPER") {
        return map_items(a[0], [&f](const Scalar& s, Scalar& r) {
            const auto* t = std::get_if<std::string>(&s);
            if (t == nullptr) return false;
            r = lower_upper(*t, f == "TO_UPPER");
            return true;
        });
    }
    if (f == "TO_STRING") {
        return map_items(a[0], [](const Scalar& s, Scalar& r) {
            r = to_text(s);
            return true;
        });
    }
    if (f == "TO_LONG" || f == "TO_INTEGER") {
        return map_items(a[0], [](const Scalar& s, Scalar& r) {
            std::int64_t n = 0;
            double d = 0;
            if (const auto* t = std::get_if<std::string>(&s)) {
                if (parse_long(*t, n)) {
                    r = n;
                    return true;
                }
                if (!parse_double(*t, d) || std::fabs(d) > 9e18) return false;
                r = static_cast<std::int64_t>(d);
                return true;
            }
            if (!as_long(Value(s), n)) {
                if (const auto* b = std::get_if<bool>(&s)) n = *b ? 1 : 0;
                else if (const auto* t = std::get_if<Date>(&s)) n = t->ms;
                else return false;
            }
            r = n;
            return true;
        });
    }
    if (f == "TO_DOUBLE") {
        return map_items(a[0], [](const Scalar& s, Scalar& r) {
            double d = 0;
            if (const auto* t = std::get_if<std::string>(&s)) {
                if (!parse_double(*t, d)) return false;
            } else if (const auto* i = std::get_if<std::int64_t>(&s)) {
                d = static_cast<double>(*i);
            } else if (const auto* x = std::get_if<double>(&s)) {
                d = *x;
            } else {
                return false;
            }
            r = d;
            return true;
        });
    }
    if (f == "TO_IP") {
        return map_items(a[0], [](const Scalar& s, Scalar& r) {
            const auto* t = std::get_if<std::string>(&s);
            unsigned char ip[16];
            bool v4 = false;
            if (t == nullptr || !parse_ip(*t, ip, v4)) return false;
            r = *t;
            return true;
        });
    }
    if (f == "TO_BOOLEAN") {
        return map_items(a[0], [](const Scalar& s, Scalar& r) {
            if (const auto* b = std::get_if<bool>(&s)) r = *b;
            else if (const auto* t = std::get_if<std::string>(&s)) r = lower_upper(*t, false) == "true";
            else if (const auto* i = std::get_if<std::int64_t>(&s)) r = *i != 0;
            else return false;
            return true;
        });
    }
    if (f == "CONCAT") {
        std::string out;
        for (const Value& v : a) {
            const Scalar* s = v.single();
            if (s == nullptr) return {};
            out += to_text(*s);
        }
        return Value(Scalar(std::move(out)));
    }
    if (f == "GREATEST" || f == "LEAST") {
        const Scalar* best = nullptr;
        for (const Value& v : a) {
            for (const Scalar& s : v.items) {
                if (best == nullptr || (f == "GREATEST" ? total_order(s, *best) > 0 : total_order(s, *best) < 0)) best = &s;
            }
        }
        return best == nullptr ? Value() : Value(*best);
    }
    // The rest are single-value functions: null on a null or multi-valued argument.
    for (const Value& v : a) {
        if (v.single() == nullptr) return {};
    }
    if (f == "CIDR_MATCH") {
        const std::string* ip_text = str(a[0]);
        unsigned char ip[16];
        bool v4 = false;
        if (ip_text == nullptr || !parse_ip(*ip_text, ip, v4)) return {};
        for (std::size_t i = 1; i < a.size(); ++i) {
            const std::string* cidr = str(a[i]);
            if (cidr != nullptr && cidr_contains(*cidr, ip, v4)) return boolean(true);
        }
        return boolean(false);
    }
    if (f == "DATE_TRUNC") {
        const auto* span = std::get_if<Span>(a[0].single());
        const auto* date = std::get_if<Date>(a[1].single());
        if (span == nullptr || date == nullptr || span->ms <= 0) return {};
        return Value(Scalar(Date{floor_div(date->ms, span->ms) * span->ms}));
    }
    if (f == "DATE_DIFF") {
        const std::string* unit = str(a[0]);
        const auto* d1 = std::get_if<Date>(a[1].single());
        const auto* d2 = std::get_if<Date>(a[2].single());
        std::int64_t unit_ms = 0;
        if (unit == nullptr || d1 == nullptr || d2 == nullptr) return {};
        const std::string u = lower_upper(*unit, false);
        if (u == "millisecond" || u == "milliseconds" || u == "ms") unit_ms = 1;
        else if (u == "second" || u == "seconds" || u == "s" || u == "ss") unit_ms = 1000;
        else if (u == "minute" || u == "minutes" || u == "mi" || u == "n") unit_ms = 60'000;
        else if (u == "hour" || u == "hours" || u == "hh") unit_ms = 3'600'000;
        else if (u == "day" || u == "days" || u == "dd" || u == "d") unit_ms = 86'400'000;
        else return {};
        return Value(Scalar((d2->ms - d1->ms) / unit_ms));
    }
    if (f == "ABS") {
        if (const auto* i = std::get_if<std::int64_t>(a[0].single())) {
            if (*i == std::numeric_limits<std::int64_t>::min()) return {};
            return Value(Scalar(*i < 0 ? -*i : *i));
        }
        if (const auto* d = std::get_if<double>(a[0].single())) return Value(Scalar(std::fabs(*d)));
        return {};
    }
    if (f == "ROUND") {
        std::int64_t digits = 0;
        if (a.size() > 1 && !as_long(a[1], digits)) return {};
        if (std::get_if<std::int64_t>(a[0].single()) != nullptr) return a[0];
        const auto* d = std::get_if<double>(a[0].single());
        if (d == nullptr || digits < -15 || digits > 15) return {};
        const double scale = std::pow(10.0, static_cast<double>(digits));
        return Value(Scalar(std::round(*d * scale) / scale));
    }
    if (f == "SPACE") {
        std::int64_t n = 0;
        if (!as_long(a[0], n) || n < 0 || n > 1'000'000) return {};
        return Value(Scalar(std::string(static_cast<std::size_t>(n), ' ')));
    }
    const std::string* s = str(a[0]);
    if (s == nullptr) return {};
    if (f == "LENGTH") return Value(Scalar(static_cast<std::int64_t>(char_starts(*s).size())));
    if (f == "URL_DECODE") {
        // As Java's URLDecoder: %XX is a byte, + a space; a bad escape makes the value null.
        std::string out;
        for (std::size_t i = 0; i < s->size(); ++i) {
            const char c = (*s)[i];
            if (c == '+') {
                out += ' ';
            } else if (c != '%') {
                out += c;
            } else {
                const auto hex = [](char h) {
                    return h >= '0' && h <= '9' ? h - '0'
                           : h >= 'a' && h <= 'f' ? h - 'a' + 10
                           : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                  : -1;
                };
                if (i + 2 >= s->size()) return {};
                const int hi = hex((*s)[i + 1]), lo = hex((*s)[i + 2]);
                if (hi < 0 || lo < 0) return {};
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        }
        return Value(Scalar(std::move(out)));
    }
    if (f == "REVERSE") return Value(Scalar(std::string(s->rbegin(), s->rend())));
    if (f == "TRIM" || f == "LTRIM" || f == "RTRIM") {
        std::size_t b = 0, en = s->size();
        if (f != "RTRIM") while (b < en && std::isspace(static_cast<unsigned char>((*s)[b]))) ++b;
        if (f != "LTRIM") while (en > b && std::isspace(static_cast<unsigned char>((*s)[en - 1]))) --en;
        return Value(Scalar(s->substr(b, en - b)));
    }
    if (f == "SUBSTRING" || f == "LEFT" || f == "RIGHT") {
        const auto starts = char_starts(*s);
        const auto n = static_cast<std::int64_t>(starts.size());
        std::int64_t from = 0, len = n;
        if (f == "SUBSTRING") {
            if (!as_long(a[1], from)) return {};
            if (a.size() > 2 && !as_long(a[2], len)) return {};
            from = from < 0 ? std::max<std::int64_t>(n + from, 0) : std::max<std::int64_t>(from - 1, 0);
        } else {
            if (!as_long(a[1], len)) return {};
            if (f == "RIGHT") from = std::max<std::int64_t>(n - len, 0);
        }
        if (len < 0 || from >= n) return Value(Scalar(std::string()));
        const std::int64_t to = std::min(n, from + len);
        const std::size_t b = starts[static_cast<std::size_t>(from)];
        const std::size_t en = to >= n ? s->size() : starts[static_cast<std::size_t>(to)];
        return Value(Scalar(s->substr(b, en - b)));
    }
    const std::string* s2 = str(a[1]);
    if (f == "LOCATE") {
        if (s2 == nullptr) return {};
        std::int64_t start = 1;
        if (a.size() > 2 && !as_long(a[2], start)) return {};
        const auto starts = char_starts(*s);
        std::size_t from = 0;
        if (start > 1) {
            if (start - 1 >= static_cast<std::int64_t>(starts.size())) return Value(Scalar(std::int64_t{0}));
            from = starts[static_cast<std::size_t>(start - 1)];
        }
        const std::size_t at = s->find(*s2, from);
        if (at == std::string::npos) return Value(Scalar(std::int64_t{0}));
        const auto chars = std::lower_bound(starts.begin(), starts.end(), at) - starts.begin();
        return Value(Scalar(static_cast<std::int64_t>(chars + 1)));
    }
    if (f == "STARTS_WITH" || f == "ENDS_WITH") {
        if (s2 == nullptr) return {};
        if (f == "STARTS_WITH") return boolean(s->compare(0, s2->size(), *s2) == 0);
        return boolean(s->size() >= s2->size() && s->compare(s->size() - s2->size(), s2->size(), *s2) == 0);
    }
    if (f == "SPLIT") {
        if (s2 == nullptr || s2->empty()) return {};
        Value out;
        std::size_t b = 0;
        while (true) {
            const std::size_t at = s->find(*s2, b);
            out.items.emplace_back(s->substr(b, at == std::string::npos ? std::string::npos : at - b));
            if (at == std::string::npos) break;
            b = at + s2->size();
        }
        return out;
    }
    if (f == "REPLACE") {
        const std::string* with = str(a[2]);
        if (s2 == nullptr || with == nullptr) return {};
        const RE2* re = regex(*s2);
        if (re == nullptr) return {};
        // Java's $1 group references are RE2's \1; a literal backslash is doubled.
        std::string rewrite;
        for (std::size_t i = 0; i < with->size(); ++i) {
            const char c = (*with)[i];
            if (c == '$' && i + 1 < with->size() && std::isdigit(static_cast<unsigned char>((*with)[i + 1]))) {
                rewrite += '\\';
                continue;
            }
            if (c == '\\') {
                rewrite += "\\\\";
                continue;
            }
            rewrite += c;
        }
        std::string out = *s;
        RE2::GlobalReplace(&out, *re, rewrite);
        return Value(Scalar(std::move(out)));
    }
    if (f == "IP_PREFIX") return {};
    return {};
}

// ---- commands ----

struct ScalarLess {
    bool operator()(const std::vector<Value>& a, const std::vector<Value>& b) const {
        for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
            if (a[i].is_null() != b[i].is_null()) return a[i].is_null();
            if (a[i].is_null()) continue;
            const int o = total_order(a[i].items[0], b[i].items[0]);
            if (o != 0) return o < 0;
            if (a[i].items[0].index() != b[i].items[0].index()) {
                return a[i].items[0].index() < b[i].items[0].index();
            }
        }
        return a.size() < b.size();
    }
};

struct AggState {
    std::int64_t count = 0;
    std::vector<Scalar> values;  // VALUES, COUNT_DISTINCT: distinct, sorted
    bool has = false;            // MIN, MAX, SUM, AVG
    Scalar best;
    double sum = 0;
    std::int64_t long_sum = 0;
    bool all_long = true;
    bool overflow = false;
};

void add_distinct(std::vector<Scalar>& values, const Scalar& s, std::size_t cap, EvalNotes& notes) {
    const auto less = [](const Scalar& x, const Scalar& y) {
        const int o = total_order(x, y);
        return o != 0 ? o < 0 : x.index() < y.index();
    };
    const auto at = std::lower_bound(values.begin(), values.end(), s, less);
    if (at != values.end() && !less(s, *at)) return;
    if (values.size() >= cap) {
        ++notes.rows_cut;
        return;
    }
    values.insert(at, s);
}

void accumulate(const Aggregate& agg, AggState& st, const Row& row, std::int64_t now_ms,
                const Limits& limits, EvalNotes& notes) {
    if (agg.star) {
        ++st.count;
        return;
    }
    const Value v = evaluate(agg.arg, row, now_ms);
    for (const Scalar& s : v.items) {
        ++st.count;
        if (agg.function == "VALUES" || agg.function == "COUNT_DISTINCT") {
            add_distinct(st.values, s, limits.max_values, notes);
        } else if (agg.function == "MIN" || agg.function == "MAX") {
            if (!st.has || (agg.function == "MIN" ? total_order(s, st.best) < 0 : total_order(s, st.best) > 0)) {
                st.best = s;
            }
            st.has = true;
        } else if (agg.function == "SUM" || agg.function == "AVG") {
            if (const auto* i = std::get_if<std::int64_t>(&s)) {
                st.sum += static_cast<double>(*i);
                if (__builtin_add_overflow(st.long_sum, *i, &st.long_sum)) st.overflow = true;
            } else if (const auto* d = std::get_if<double>(&s)) {
                st.sum += *d;
                st.all_long = false;
            } else {
                continue;
            }
            st.has = true;
        }
    }
}

Value result(const Aggregate& agg, const AggState& st) {
    if (agg.function == "COUNT") return Value(Scalar(st.count));
    if (agg.function == "COUNT_DISTINCT") return Value(Scalar(static_cast<std::int64_t>(st.values.size())));
    if (agg.function == "VALUES") {
        Value v;
        v.items = st.values;
        return v;
    }
    if (!st.has) return {};
    if (agg.function == "MIN" || agg.function == "MAX") return Value(st.best);
    if (agg.function == "SUM") {
        if (st.all_long) return st.overflow ? Value() : Value(Scalar(st.long_sum));
        return Value(Scalar(st.sum));
    }
    return Value(Scalar(st.sum / static_cast<double>(st.count)));
}

void run_stats(const Command& c, std::vector<Row>& rows, std::int64_t now_ms, const Limits& limits,
               EvalNotes& notes) {
    struct Group {
        std::vector<AggState> states;
        std::size_t order = 0;
    };
    std::map<std::vector<Value>, Group, ScalarLess> groups;
    const auto add_to = [&](const std::vector<Value>& key, const Row& row) {
        auto it = groups.find(key);
        if (it == groups.end()) {
            if (groups.size() >= limits.max_rows) {
                ++notes.rows_cut;
                return;
            }
            it = groups.emplace(key, Group{std::vector<AggState>(c.aggregates.size()), groups.size()}).first;
        }
        for (std::size_t i = 0; i < c.aggregates.size(); ++i) {
            accumulate(c.aggregates[i], it->second.states[i], row, now_ms, limits, notes);
        }
    };
    for (const Row& row : rows) {
        // A multi-valued group key puts the row in the group of each of its values.
        std::vector<Value> keys;
        keys.reserve(c.by.size());
        for (const Assignment& b : c.by) keys.push_back(evaluate(b.expr, row, now_ms));
        std::vector<Value> key(c.by.size());
        std::function<void(std::size_t)> expand = [&](std::size_t i) {
            if (i == keys.size()) {
                add_to(key, row);
                return;
            }
            if (keys[i].is_null()) {
                key[i] = Value();
                expand(i + 1);
                return;
            }
            for (const Scalar& s : keys[i].items) {
                key[i] = Value(s);
                expand(i + 1);
            }
        };
        expand(0);
    }
    if (groups.empty() && c.by.empty()) groups.emplace(std::vector<Value>{}, Group{std::vector<AggState>(c.aggregates.size()), 0});
    std::vector<Row> out;
    out.reserve(groups.size());
    for (const auto& [key, g] : groups) {
        Row hidden;
        for (std::size_t i = 0; i < c.aggregates.size(); ++i) {
            hidden.columns.emplace_back(c.aggregates[i].column, result(c.aggregates[i], g.states[i]));
        }
        Row r;
        for (const Assignment& a : c.assignments) {
            Value v = evaluate(a.expr, hidden, now_ms);
            r.erase(a.name);
            r.columns.emplace_back(a.name, std::move(v));
        }
        for (std::size_t i = 0; i < c.by.size(); ++i) {
            r.erase(c.by[i].name);
            r.columns.emplace_back(c.by[i].name, key[i]);
        }
        out.push_back(std::move(r));
    }
    rows = std::move(out);
}

int compare_for_sort(const Value& a, const Value& b, const SortKey& k) {
    if (a.is_null() || b.is_null()) {
        if (a.is_null() && b.is_null()) return 0;
        const int null_side = k.nulls_first ? -1 : 1;
        return a.is_null() ? null_side : -null_side;
    }
    // A multi-value sorts by its least value ascending, its greatest descending.
    const auto pick = [&k](const Value& v) {
        const auto cmp = [](const Scalar& x, const Scalar& y) { return total_order(x, y) < 0; };
        return k.descending ? *std::max_element(v.items.begin(), v.items.end(), cmp)
                            : *std::min_element(v.items.begin(), v.items.end(), cmp);
    };
    const int o = total_order(pick(a), pick(b));
    return k.descending ? -o : o;
}

}  // namespace

bool name_matches(std::string_view pattern, std::string_view name) {
    if (pattern.find('*') == std::string_view::npos) return pattern == name;
    // `*` is the only wildcard; `?` and `\` are literal in column names.
    std::string escaped;
    for (char c : pattern) {
        if (c == '?' || c == '\\') escaped += '\\';
        escaped += c;
    }
    return like(name, escaped);
}

bool index_matches(std::string_view pattern, std::string_view index) {
    if (!pattern.empty() && pattern.front() == '-') return false;
    if (const std::size_t colon = pattern.find(':'); colon != std::string_view::npos) return false;  // remote cluster
    return name_matches(pattern, index);
}

namespace {

void eval_into(const Command& c, Row& r, std::int64_t now_ms) {
    for (const Assignment& a : c.assignments) {
        Value v = evaluate(a.expr, r, now_ms);
        r.erase(a.name);  // an existing column moves to the end
        r.columns.emplace_back(a.name, std::move(v));
    }
}

}  // namespace

Step run_in_place(const Command& c, Row& row, std::int64_t now_ms) {
    switch (c.kind) {
        case Command::Kind::where: return keeps(c.condition, row, now_ms) ? Step::kept : Step::dropped;
        case Command::Kind::eval: eval_into(c, row, now_ms); return Step::kept;
        case Command::Kind::mv_expand: {
            const Value* v = row.find(c.names[0]);
            return v == nullptr || v->items.size() <= 1 ? Step::kept : Step::unsupported;
        }
        default: return Step::unsupported;
    }
}

void run(const Pipeline& p, std::size_t first, std::size_t last, std::vector<Row>& rows,
         std::int64_t now_ms, const Limits& limits, EvalNotes& notes) {
    for (std::size_t ci = first; ci < last && ci < p.commands.size(); ++ci) {
        const Command& c = p.commands[ci];
        switch (c.kind) {
            case Command::Kind::where: {
                rows.erase(std::remove_if(rows.begin(), rows.end(),
                                          [&](const Row& r) { return !keeps(c.condition, r, now_ms); }),
                           rows.end());
                break;
            }
            case Command::Kind::eval:
                for (Row& r : rows) eval_into(c, r, now_ms);
                break;
            case Command::Kind::stats: run_stats(c, rows, now_ms, limits, notes); break;
            case Command::Kind::mv_expand: {
                std::vector<Row> out;
                for (Row& r : rows) {
                    const Value* v = r.find(c.names[0]);
                    if (v == nullptr || v->items.size() <= 1) {
                        out.push_back(std::move(r));
                        continue;
                    }
                    const std::vector<Scalar> items = v->items;
                    for (std::size_t i = 0; i < items.size(); ++i) {
                        const Scalar& s = items[i];
                        if (out.size() >= limits.max_rows) {
                            notes.rows_cut += items.size() - i;
                            break;
                        }
                        Row copy = r;
                        *copy.find(c.names[0]) = Value(s);
                        out.push_back(std::move(copy));
                    }
                }
                rows = std::move(out);
                break;
            }
            case Command::Kind::keep:
                for (Row& r : rows) {
                    Row kept;
                    for (const std::string& pattern : c.names) {
                        for (auto& col : r.columns) {
                            if (name_matches(pattern, col.first) && kept.find(col.first) == nullptr) {
                                kept.columns.emplace_back(col.first, std::move(col.second));
                            }
                        }
                    }
                    r = std::move(kept);
                }
                break;
            case Command::Kind::drop:
                for (Row& r : rows) {
                    r.columns.erase(std::remove_if(r.columns.begin(), r.columns.end(),
                                                   [&](const auto& col) {
                                                       return std::any_of(c.names.begin(), c.names.end(), [&](const std::string& pat) {
                                                           return name_matches(pat, col.first);
                                                       });
                                                   }),
                                    r.columns.end());
                }
                break;
            case Command::Kind::rename:
                for (Row& r : rows) {
                    for (const auto& [from, to] : c.renames) {
                        Value* v = r.find(from);
                        if (v == nullptr) continue;
                        Value moved = std::move(*v);
                        r.erase(to);
                        if (Value* again = r.find(from)) {
                            *again = std::move(moved);
                            for (auto& col : r.columns) {
                                if (col.first == from) col.first = to;
                            }
                        }
                    }
                }
                break;
            case Command::Kind::sort: {
                std::vector<std::pair<std::vector<Value>, std::size_t>> keys;
                keys.reserve(rows.size());
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    std::vector<Value> k;
                    for (const SortKey& s : c.sort) k.push_back(evaluate(s.expr, rows[i], now_ms));
                    keys.emplace_back(std::move(k), i);
                }
                std::stable_sort(keys.begin(), keys.end(), [&c](const auto& x, const auto& y) {
                    for (std::size_t i = 0; i < c.sort.size(); ++i) {
                        const int o = compare_for_sort(x.first[i], y.first[i], c.sort[i]);
                        if (o != 0) return o < 0;
                    }
                    return false;
                });
                std::vector<Row> out;
                out.reserve(rows.size());
                for (const auto& k : keys) out.push_back(std::move(rows[k.second]));
                rows = std::move(out);
                break;
            }
            case Command::Kind::limit:
                if (rows.size() > static_cast<std::size_t>(std::max<std::int64_t>(c.limit, 0))) {
                    rows.resize(static_cast<std::size_t>(std::max<std::int64_t>(c.limit, 0)));
                }
                break;
        }
    }
}

}  // namespace scanwatch::rules::esql
