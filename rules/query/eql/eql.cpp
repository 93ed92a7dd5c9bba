#include "rules/query/eql/eql.h"

#include <cstddef>
#include <cstdint>
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
        if (ok.is_sequence) {
            // Each term a query of its own; the rule's query is any of them (what the rule reads).
            auto seq = std::make_shared<EqlSequence>();
            const eql::ParsedSequence& in = ok.sequence;
            seq->sample = in.sample;
            seq->maxspan_ms = in.maxspan_ms;
            seq->sequence_keys = in.key_ids.size();
            std::vector<query::Expr> any;
            const auto stage_of = [&](const eql::ParsedStage& p, std::size_t written) {
                EqlStage st;
                st.category = p.category;
                query::Expr root = p.root;
                query::prepare(root);
                st.query.root_ = std::make_shared<const query::Expr>(std::move(root));
                st.query.field_ids_ = p.field_ids;
                st.query.field_names_ = p.field_names;
                st.query.eql_ = true;
                st.key_ids = in.key_ids;
                st.key_names = in.key_names;
                st.key_ids.insert(st.key_ids.end(), p.key_ids.begin(), p.key_ids.end());
                st.key_names.insert(st.key_names.end(), p.key_names.begin(), p.key_names.end());
                st.key_optional = in.key_optional;
                st.key_optional.insert(st.key_optional.end(), p.key_optional.begin(),
                                       p.key_optional.end());
                st.missing = p.missing;
                st.written = written;
                return st;
            };
            for (std::size_t i = 0; i < in.stages.size(); ++i) {
                any.push_back(in.stages[i].root);
                for (std::uint32_t r = 0; r < in.stages[i].runs; ++r) {
                    seq->stages.push_back(stage_of(in.stages[i], i));
                }
            }
            if (in.has_until) {
                any.push_back(in.until.root);
                seq->has_until = true;
                seq->until = stage_of(in.until, in.stages.size());
            }
            ok.root = query::make_group(query::ExprKind::or_op, std::move(any));
            out.sequence = std::move(seq);
        }
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
