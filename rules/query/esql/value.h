#pragma once
// ES|QL values (docs/rules.md, "ES|QL"): a column value is null, one value, or several (a
// multi-valued field). Knows nothing of ECS or rules.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace scanwatch::rules::esql {

/// A date: milliseconds since the epoch (UTC).
struct Date {
    std::int64_t ms = 0;
    bool operator==(const Date& o) const { return ms == o.ms; }
};

/// A time span literal (`1 minute`, `5 minutes`, `1 hour`), for DATE_TRUNC.
struct Span {
    std::int64_t ms = 0;
    bool operator==(const Span& o) const { return ms == o.ms; }
};

/// One value: boolean, long, double, keyword (string), date or time span.
using Scalar = std::variant<bool, std::int64_t, double, std::string, Date, Span>;

/// A column value: no element is null, more than one is a multi-value (ES|QL's multi-valued
/// fields: most functions and operators give null on them).
struct Value {
    std::vector<Scalar> items;

    Value() = default;
    explicit Value(Scalar s) { items.push_back(std::move(s)); }
    bool is_null() const { return items.empty(); }
    bool is_multi() const { return items.size() > 1; }
    /// The single value, or null when the value is null or multi-valued.
    const Scalar* single() const { return items.size() == 1 ? &items.front() : nullptr; }
    bool operator==(const Value& o) const { return items == o.items; }
};

/// Three-way order of two scalars of comparable types (numbers with numbers, strings with
/// strings, dates with dates, booleans with booleans); false when they do not compare.
bool compare(const Scalar& a, const Scalar& b, int& order);

/// A total order over scalars of any type (type first), for SORT, VALUES and grouping.
int total_order(const Scalar& a, const Scalar& b);

/// The text of a scalar as TO_STRING gives it (dates in ISO 8601, doubles shortest).
std::string to_text(const Scalar& s);

/// Text as a long / double; false when it is not one.
bool parse_long(std::string_view text, std::int64_t& out);
bool parse_double(std::string_view text, double& out);

/// A row: named columns in order. Lookups are linear: rules keep a few dozen columns.
struct Row {
    std::vector<std::pair<std::string, Value>> columns;

    /// The column `name`, or null when the row has none.
    const Value* find(std::string_view name) const;
    Value* find(std::string_view name);
    /// Sets `name` (replacing it in place, or appended at the end).
    void set(std::string_view name, Value v);
    /// Removes `name`; true when it was there.
    bool erase(std::string_view name);
};

}  // namespace scanwatch::rules::esql
