#include "rules/index/rule_index.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "rules/query/pattern.h"

namespace scanwatch::rules {
namespace {

void lower_into(std::string_view v, std::string& out) {
    out.resize(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = query::ascii_lower(v[i]);
}

}  // namespace

IndexBucket bucket_of(const EngineInterest& interest) {
    IndexBucket b;
    switch (interest.kind) {
        case EngineInterest::Kind::every_event: return b;
        case EngineInterest::Kind::none: b.kind = IndexBucket::Kind::never; return b;
        case EngineInterest::Kind::keyed: {
            // Keys on a field the index does not look up would never be found: every event.
            for (const IndexKey& k : interest.keys) {
                const auto& fields = index_fields();
                if (std::find(fields.begin(), fields.end(), k.field_id) == fields.end()) return b;
            }
            // No key: no event is a candidate; a clocked engine still gets every event's time.
            if (interest.keys.empty() && !interest.clocked) {
                b.kind = IndexBucket::Kind::never;
                return b;
            }
            b.kind = IndexBucket::Kind::keyed;
            b.keys = interest.keys;
            for (IndexKey& k : b.keys) {
                for (char& c : k.value) c = query::ascii_lower(c);
            }
            sort_keys(b.keys);
            b.clocked = interest.clocked;
            return b;
        }
        case EngineInterest::Kind::matching: break;
    }
    std::vector<IndexKey> keys;
    // The engine acts when any of its queries matches: the union over them.
    for (const Query& q : interest.queries) {
        const query::Expr* root = q.expr();
        if (root == nullptr) continue;  // an empty query matches nothing
        if (!required_keys(*root, keys)) return b;
    }
    sort_keys(keys);
    b.kind = keys.empty() ? IndexBucket::Kind::never : IndexBucket::Kind::keyed;
    b.keys = std::move(keys);
    return b;
}

std::string describe_bucket(const IndexBucket& bucket) {
    switch (bucket.kind) {
        case IndexBucket::Kind::always:
            return "rule index: tried on every event (no field it requires a literal value of)";
        case IndexBucket::Kind::never: return "rule index: tried on no event (none can match)";
        case IndexBucket::Kind::keyed: break;
    }
    if (bucket.keys.empty()) return "rule index: tried on no event (none can match); events only move its schedule";
    std::string shown;
    constexpr std::size_t kShown = 8;
    std::size_t i = 0;
    while (i < bucket.keys.size()) {
        const int field = bucket.keys[i].field_id;
        const IndexKey::Match match = bucket.keys[i].match;
        std::size_t n = 0;
        std::string values;
        for (; i < bucket.keys.size() && bucket.keys[i].field_id == field && bucket.keys[i].match == match;
             ++i, ++n) {
            if (n < kShown) values += (n > 0 ? ", " : "") + bucket.keys[i].value;
        }
        if (n > kShown) values += fmt::format(", ... ({} values)", n);
        const char* verb = match == IndexKey::Match::exact    ? "is"
                           : match == IndexKey::Match::prefix ? "starts with"
                                                              : "ends with";
        shown += fmt::format("{}{} {} {}", shown.empty() ? "" : "; or ",
                             FieldCatalog::name_of(field), verb, values);
    }
    return fmt::format("rule index: tried on events whose {} (ASCII case ignored){}", shown,
                       bucket.clocked ? "; other events only move its schedule" : "");
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
        for (const IndexKey& key : b.keys) {
            auto map = std::find_if(fields_.begin(), fields_.end(),
                                    [&](const FieldMap& m) { return m.field_id == key.field_id; });
            if (map == fields_.end()) {
                fields_.emplace_back();
                fields_.back().field_id = key.field_id;
                map = fields_.end() - 1;
            }
            RulesByValue& by = key.match == IndexKey::Match::exact    ? map->rules_by_value
                               : key.match == IndexKey::Match::prefix ? map->rules_by_prefix
                                                                      : map->rules_by_suffix;
            auto& rules = by[key.value];
            if (rules.empty() || rules.back() != rule) rules.push_back(rule);
            if (key.match != IndexKey::Match::exact) {
                auto& sizes = key.match == IndexKey::Match::prefix ? map->prefix_sizes : map->suffix_sizes;
                if (std::find(sizes.begin(), sizes.end(), key.value.size()) == sizes.end()) {
                    sizes.push_back(key.value.size());
                }
            }
        }
        if (b.clocked) clocked_.push_back(rule);
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
        std::string* part;
        std::vector<std::uint32_t>* out;
        void add(const RulesByValue& by, const std::string& key) const {
            const auto hit = by.find(key);
            if (hit != by.end()) out->insert(out->end(), hit->second.begin(), hit->second.end());
        }
    };
    Lookup lookup{nullptr, &folded_, &part_, &out};
    const Lookup* ctx = &lookup;
    for (const FieldMap& map : fields_) {
        lookup.map = &map;
        fields.any_value(map.field_id, [ctx](std::string_view v) {
            const FieldMap& m = *ctx->map;
            lower_into(v, *ctx->folded);
            const std::string& f = *ctx->folded;
            ctx->add(m.rules_by_value, f);
            // Each size a start or an end is kept at: one look-up per size (a few).
            for (const std::size_t n : m.prefix_sizes) {
                if (n > f.size()) continue;
                ctx->part->assign(f, 0, n);
                ctx->add(m.rules_by_prefix, *ctx->part);
            }
            for (const std::size_t n : m.suffix_sizes) {
                if (n > f.size()) continue;
                ctx->part->assign(f, f.size() - n, n);
                ctx->add(m.rules_by_suffix, *ctx->part);
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
