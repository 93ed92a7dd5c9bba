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

namespace {

bool names_hold(const std::vector<std::string>& names, const query::Pattern& p) {
    if (!p.is_literal()) return false;
    for (const std::string& name : names) {
        if (p.fold ? query::folded_match(query::make_literal(name, true), p.bytes) : p.bytes == name) {
            return true;
        }
    }
    return false;
}

void add_alias(query::Expr& e, int field_id, const std::vector<std::string>& names,
               std::string_view alias, std::size_t& added) {
    for (query::Expr& child : e.children) add_alias(child, field_id, names, alias, added);
    if (e.kind != query::ExprKind::match || e.field_id != field_id) return;
    bool named = false;
    for (const query::Pattern& p : e.patterns) {
        if (p.matches(alias)) return;  // already accepts it
        named = named || names_hold(names, p);
    }
    if (!named) return;
    const bool fold = e.patterns.front().fold;
    e.patterns.push_back(query::make_literal(std::string(alias), fold));
    e.literal_set.reset();  // prepare() builds it again over the new list
    e.scanned.clear();
    ++added;
}

}  // namespace

Query Query::with_alias(int field_id, const std::vector<std::string>& names, std::string_view alias,
                        std::size_t& added) const {
    added = 0;
    if (!root_ || !query::mentions(*root_, field_id)) return *this;
    query::Expr root = *root_;
    add_alias(root, field_id, names, alias, added);
    if (added == 0) return *this;
    query::prepare(root);
    Query out = *this;
    out.root_ = std::make_shared<const query::Expr>(std::move(root));
    return out;
}

}  // namespace scanwatch::rules
