#include "rules/query/eql/eql.h"

#include <cstddef>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "rules/query/eql/parser.h"
#include "rules/query/match.h"
#include "rules/query/text.h"

namespace scanwatch::rules {
std::variant<EqlQuery, QueryError> parse_eql(std::string_view text, const FieldResolver& resolver) {
    // The resolver is caller code and allocation can fail: neither may escape as an exception.
    try {
        if (QueryError bad; !query_text::check_input(text, static_cast<bool>(resolver), bad)) return bad;
        auto parsed = eql::parse(text, resolver);
        if (auto* error = std::get_if<QueryError>(&parsed)) return std::move(*error);
        auto& ok = std::get<eql::Parsed>(parsed);
        EqlQuery out;
        out.category = std::move(ok.category);
        query::prepare(ok.root);
        out.query.root_ = std::make_shared<const query::Expr>(std::move(ok.root));
        out.query.field_ids_ = std::move(ok.field_ids);
        out.query.field_names_ = std::move(ok.field_names);
        out.query.eql_ = true;
        return out;
    } catch (const std::exception& e) {
        return QueryError{fmt::format("cannot parse query: {}", e.what()), 1, 1};
    } catch (...) {
        return QueryError{"cannot parse query: unknown error", 1, 1};
    }
}

}  // namespace scanwatch::rules
