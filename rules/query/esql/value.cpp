#include "rules/query/esql/value.h"

#include <charconv>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

namespace scanwatch::rules::esql {
namespace {

bool number(const Scalar& s, double& out) {
    if (const auto* i = std::get_if<std::int64_t>(&s)) {
        out = static_cast<double>(*i);
        return true;
    }
    if (const auto* d = std::get_if<double>(&s)) {
        out = *d;
        return true;
    }
    return false;
}

template <class T>
int three_way(const T& a, const T& b) {
    return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

bool compare(const Scalar& a, const Scalar& b, int& order) {
    const auto* ia = std::get_if<std::int64_t>(&a);
    const auto* ib = std::get_if<std::int64_t>(&b);
    if (ia != nullptr && ib != nullptr) {
        order = three_way(*ia, *ib);
        return true;
    }
    double da = 0, db = 0;
    if (number(a, da) && number(b, db)) {
        if (std::isnan(da) || std::isnan(db)) return false;
        order = three_way(da, db);
        return true;
    }
    if (a.index() != b.index()) return false;
    if (const auto* sa = std::get_if<std::string>(&a)) {
        order = sa->compare(std::get<std::string>(b));
        order = order < 0 ? -1 : (order > 0 ? 1 : 0);
    } else if (const auto* ba = std::get_if<bool>(&a)) {
        order = three_way(*ba, std::get<bool>(b));
    } else if (const auto* ta = std::get_if<Date>(&a)) {
        order = three_way(ta->ms, std::get<Date>(b).ms);
    } else {
        order = three_way(std::get<Span>(a).ms, std::get<Span>(b).ms);
    }
    return true;
}

int total_order(const Scalar& a, const Scalar& b) {
    int order = 0;
    if (compare(a, b, order)) return order;
    return three_way(a.index(), b.index());
}

std::string to_text(const Scalar& s) {
    if (const auto* str = std::get_if<std::string>(&s)) return *str;
    if (const auto* i = std::get_if<std::int64_t>(&s)) return std::to_string(*i);
    if (const auto* b = std::get_if<bool>(&s)) return *b ? "true" : "false";
    if (const auto* d = std::get_if<double>(&s)) {
        if (std::isfinite(*d) && *d == std::floor(*d) && std::fabs(*d) < 1e15) {
            return fmt::format("{:.1f}", *d);
        }
        return fmt::format("{}", *d);
    }
    if (const auto* t = std::get_if<Date>(&s)) {
        const std::int64_t ms = t->ms;
        std::int64_t secs = ms / 1000;
        std::int64_t milli = ms % 1000;
        if (milli < 0) {
            milli += 1000;
            --secs;
        }
        const std::time_t tt = static_cast<std::time_t>(secs);
        std::tm tm{};
        if (gmtime_r(&tt, &tm) == nullptr) return std::to_string(ms);
        return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    }
    return fmt::format("{}ms", std::get<Span>(s).ms);
}

bool parse_long(std::string_view text, std::int64_t& out) {
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

bool parse_double(std::string_view text, double& out) {
    if (text.empty() || text.size() > 64) return false;
    const std::string copy(text);
    char* end = nullptr;
    out = std::strtod(copy.c_str(), &end);
    return end == copy.c_str() + copy.size() && std::isfinite(out);
}

const Value* Row::find(std::string_view name) const {
    for (const auto& c : columns) {
        if (c.first == name) return &c.second;
    }
    return nullptr;
}

Value* Row::find(std::string_view name) {
    for (auto& c : columns) {
        if (c.first == name) return &c.second;
    }
    return nullptr;
}

void Row::set(std::string_view name, Value v) {
    if (Value* found = find(name)) {
        *found = std::move(v);
        return;
    }
    columns.emplace_back(std::string(name), std::move(v));
}

bool Row::erase(std::string_view name) {
    for (auto it = columns.begin(); it != columns.end(); ++it) {
        if (it->first == name) {
            columns.erase(it);
            return true;
        }
    }
    return false;
}

}  // namespace scanwatch::rules::esql
