#include "rules/index/rule_index.h"

#include <algorithm>

#include <fmt/format.h>

#include "rules/query/pattern.h"

namespace scanwatch::rules {
namespace {

void lower_into(std::string_view v, std::string& out) {
    out.resize(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = query::ascii_lower(v[i]);
}

std::string lowered(std::string_view v) {
    std::string out;
    lower_into(v, out);
    return out;
}

void dedupe(std::vector<std::string>& values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
}

}  // namespace

const std::vector<int>& index_fields() {
    // Identity fields first (Elastic's rules mostly pin process.name), then the event's kind.
    static const std::vector<int> fields = [] {
        std::vector<int> ids;
        for (const std::string_view name :
             {"process.name", "process.executable", "process.parent.name",
              "process.parent.executable", "destination.port", "network.transport",
              "event.action", "event.type"}) {
            ids.push_back(FieldCatalog::known_id(name));
        }
        return ids;
    }();
    return fields;
}

bool required_literals(const query::Expr& e, int field_id, std::vector<std::string>& values) {
    switch (e.kind) {
        case query::ExprKind::match:
            if (e.field_id != field_id || e.patterns.empty()) return false;
            for (const query::Pattern& p : e.patterns) {
                if (!p.is_literal()) return false;
            }
            for (const query::Pattern& p : e.patterns) values.push_back(lowered(p.bytes));
            return true;
        case query::ExprKind::and_op: {
            // Each constraining conjunct alone is necessary; the one with fewest values is kept.
            bool found = false;
            std::vector<std::string> best;
            for (const query::Expr& child : e.children) {
                std::vector<std::string> mine;
                if (!required_literals(child, field_id, mine)) continue;
                dedupe(mine);
                if (!found || mine.size() < best.size()) best = std::move(mine);
                found = true;
            }
            if (found) values.insert(values.end(), best.begin(), best.end());
            return found;
        }
        case query::ExprKind::or_op:
            // Every branch must constrain the field; the event then has one of their union.
            for (const query::Expr& child : e.children) {
                if (!required_literals(child, field_id, values)) return false;
            }
            return !e.children.empty();
        default:
            // `not`, regexes, comparisons, existence, CIDR ranges, field relations: no finite set.
            return false;
    }
}

IndexBucket bucket_of(const EngineInterest& interest) {
    IndexBucket b;
    switch (interest.kind) {
        case EngineInterest::Kind::every_event: return b;
        case EngineInterest::Kind::none: b.kind = IndexBucket::Kind::never; return b;
        case EngineInterest::Kind::matching: break;
    }
    if (interest.queries.empty()) {
        b.kind = IndexBucket::Kind::never;
        return b;
    }
    for (const int field : index_fields()) {
        std::vector<std::string> values;
        bool all = true;
        // The engine acts when any of its queries matches: the union over them.
        for (const Query& q : interest.queries) {
            const query::Expr* root = q.expr();
            if (root == nullptr) continue;  // an empty query matches nothing
            if (!required_literals(*root, field, values)) {
                all = false;
                break;
            }
        }
        if (!all) continue;
        dedupe(values);
        b.kind = IndexBucket::Kind::keyed;
        b.field_id = field;
        b.values = std::move(values);
        return b;
    }
    return b;
}

std::string describe_bucket(const IndexBucket& bucket) {
    switch (bucket.kind) {
        case IndexBucket::Kind::always: return "rule index: tried on every event (no field it requires a literal value of)";
        case IndexBucket::Kind::never: return "rule index: tried on no event (none can match)";
        case IndexBucket::Kind::keyed: break;
    }
    std::string shown;
    constexpr std::size_t kShown = 8;
    for (std::size_t i = 0; i < bucket.values.size() && i < kShown; ++i) {
        if (i > 0) shown += ", ";
        shown += bucket.values[i];
    }
    if (bucket.values.size() > kShown) {
        shown += fmt::format(", ... ({} values)", bucket.values.size());
    }
    return fmt::format("rule index: tried on events whose {} is {} (ASCII case ignored)",
                       FieldCatalog::name_of(bucket.field_id), shown);
}

RuleIndex::RuleIndex(const std::vector<IndexBucket>& buckets, const std::vector<char>& included,
                     NameMatch name_match)
    : name_match_(name_match) {
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        if (i < included.size() && !included[i]) continue;
        const IndexBucket& b = buckets[i];
        const auto rule = static_cast<std::uint32_t>(i);
        if (b.kind == IndexBucket::Kind::never) continue;
        if (b.kind == IndexBucket::Kind::always) {
            always_.push_back(rule);
            continue;
        }
        auto map = std::find_if(fields_.begin(), fields_.end(),
                                [&](const FieldMap& m) { return m.field_id == b.field_id; });
        if (map == fields_.end()) {
            fields_.push_back(FieldMap{b.field_id, {}});
            map = fields_.end() - 1;
        }
        for (const std::string& v : b.values) map->rules_by_value[v].push_back(rule);
        ++keyed_;
    }
}

void RuleIndex::candidates(const ProcessEvent& event, std::vector<std::uint32_t>& out) {
    out.assign(always_.begin(), always_.end());
    if (fields_.empty()) return;
    const std::size_t unsorted_from = out.size();
    const EventFields fields(event, name_match_);
    // One pointer of capture keeps the visitor in std::function's small buffer: no allocation.
    struct Lookup {
        const FieldMap* map;
        std::string* folded;
        std::vector<std::uint32_t>* out;
    };
    Lookup lookup{nullptr, &folded_, &out};
    const Lookup* ctx = &lookup;
    for (const FieldMap& map : fields_) {
        lookup.map = &map;
        fields.any_value(map.field_id, [ctx](std::string_view v) {
            lower_into(v, *ctx->folded);
            const auto hit = ctx->map->rules_by_value.find(*ctx->folded);
            if (hit != ctx->map->rules_by_value.end()) {
                ctx->out->insert(ctx->out->end(), hit->second.begin(), hit->second.end());
            }
            return false;  // every value
        });
    }
    if (out.size() == unsorted_from) return;
    // Load order, each rule once (a rule can be reached through two values of one field).
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace scanwatch::rules
