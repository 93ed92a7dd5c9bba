#include "rules/query/query.h"

#include <cstddef>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "rules/query/eql/parser.h"
#include "rules/query/text.h"
#include "rules/query/kql/parser.h"
#include "rules/query/kql/print.h"
#include "rules/query/check.h"
#include "rules/query/match.h"

namespace scanwatch::rules {

std::variant<Query, QueryError> Query::parse(std::string_view text,
                                                 const FieldResolver& resolver) {
    // The resolver is caller code and allocation can fail: neither may escape as an exception.
    try {
        if (QueryError bad; !query_text::check_input(text, static_cast<bool>(resolver), bad)) return bad;
        auto parsed = kql::parse(text, resolver);
        if (auto* error = std::get_if<QueryError>(&parsed)) return std::move(*error);
        auto& ok = std::get<kql::Parsed>(parsed);
        Query query;
        query::prepare(ok.root);
        query.root_ = std::make_shared<const query::Expr>(std::move(ok.root));
        query.field_ids_ = std::move(ok.field_ids);
        query.field_names_ = std::move(ok.field_names);
        return query;
    } catch (const std::exception& e) {
        return QueryError{fmt::format("cannot parse query: {}", e.what()), 1, 1};
    } catch (...) {
        return QueryError{"cannot parse query: unknown error", 1, 1};
    }
}

bool Query::matches(const FieldAccessor& fields) const {
    bool cut = false;
    return matches(fields, cut);
}

bool Query::matches(const FieldAccessor& fields, bool& cut) const {
    cut = false;
    return root_ != nullptr && query::matches(*root_, fields, cut);
}

const std::vector<int>& Query::field_ids() const {
    return field_ids_;
}

std::string Query::to_string() const {
    std::string out;
    if (root_ && eql_) eql::print(*root_, out);
    if (root_ && !eql_) kql::print(*root_, out);
    return out;
}

bool Query::may_match(const FieldAccessor& known,
                         const std::function<bool(int)>& is_known) const {
    return root_ != nullptr && query::evaluate(*root_, known, is_known) != query::Tri::no;
}

bool Query::must_match(const FieldAccessor& known,
                          const std::function<bool(int)>& is_known) const {
    return root_ != nullptr && query::evaluate(*root_, known, is_known) == query::Tri::yes;
}

std::vector<std::string> Query::required_values(int field_id) const {
    if (!root_) return {};
    return query::required_values(*root_, field_id);
}

}  // namespace scanwatch::rules
