#include "rules/engines/index_keys.h"

#include <algorithm>
#include <utility>

#include "rules/event_fields.h"
#include "rules/query/pattern.h"

namespace scanwatch::rules {
std::string lowered(std::string_view v) {
    std::string out(v);
    for (char& c : out) c = query::ascii_lower(c);
    return out;
}

void sort_keys(std::vector<IndexKey>& keys) {
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

const std::vector<int>& index_fields() {
    // Identity fields first (Elastic's rules mostly pin process.name), then an argument, then
    // the event's kind (for exec events event.action and event.type narrow nothing).
    static const std::vector<int> fields = [] {
        std::vector<int> ids;
        for (const std::string_view name :
             {"process.name", "process.executable", "process.parent.name",
              "process.parent.executable", "process.args", "destination.port",
              "network.transport", "event.action", "event.type"}) {
            ids.push_back(FieldCatalog::known_id(name));
        }
        return ids;
    }();
    return fields;
}

namespace {

// A field's place in index_fields(), or -1 when it is not indexed.
int rank_of(int field_id) {
    const auto& fields = index_fields();
    const auto it = std::find(fields.begin(), fields.end(), field_id);
    return it == fields.end() ? -1 : static_cast<int>(it - fields.begin());
}

// About how many events a set of keys lets through, as a conjunct's, in made-up units: a
// process name or executable is rare, a parent's less so, an argument more (an option like
// `-t` most), an event's kind (the same for every exec) always.
std::uint64_t weakness(const std::vector<IndexKey>& keys) {
    static const int args = FieldCatalog::known_id("process.args");
    std::uint64_t sum = 0;
    for (const IndexKey& k : keys) {
        const int rank = rank_of(k.field_id);
        std::uint64_t w = 0;
        if (k.field_id == args) {
            w = k.value.size() <= 2 || k.value.front() == '-' ? 64 : 16;
        } else {
            w = rank == 0 ? 1 : rank == 1 ? 2 : rank < 4 ? 4 : rank < 7 ? 32 : 1024;
        }
        // A start or an end lets more values through than the whole value, a short one many.
        if (k.match != IndexKey::Match::exact) w *= k.value.size() <= 2 ? 32 : 2;
        sum += w;
    }
    return sum;
}

// The key a pattern requires: its value, or the literal bytes it starts with, or (starting
// with a wildcard) those it ends with. False for a pattern with neither (`*x*`, `*`).
bool pattern_key(int field_id, const query::Pattern& p, IndexKey& key) {
    key.field_id = field_id;
    if (p.is_literal()) {
        key.value = lowered(p.bytes);
        key.match = IndexKey::Match::exact;
        return true;
    }
    std::size_t head = 0;
    while (head < p.roles.size() && p.roles[head] == query::kLiteralByte) ++head;
    if (head > 0) {
        key.value = lowered(std::string_view(p.bytes).substr(0, head));
        key.match = IndexKey::Match::prefix;
        return true;
    }
    std::size_t tail = 0;
    while (tail < p.roles.size() && p.roles[p.roles.size() - 1 - tail] == query::kLiteralByte) ++tail;
    if (tail > 0) {
        key.value = lowered(std::string_view(p.bytes).substr(p.bytes.size() - tail));
        key.match = IndexKey::Match::suffix;
        return true;
    }
    return false;
}

}  // namespace

bool required_keys(const query::Expr& e, std::vector<IndexKey>& keys, const FieldMapping& field_of) {
    switch (e.kind) {
        case query::ExprKind::match: {
            const int field = field_of ? field_of(e.field_id) : e.field_id;
            if (rank_of(field) < 0 || e.patterns.empty()) return false;
            std::vector<IndexKey> mine;
            for (const query::Pattern& p : e.patterns) {
                IndexKey k;
                if (!pattern_key(field, p, k)) return false;
                mine.push_back(std::move(k));
            }
            keys.insert(keys.end(), mine.begin(), mine.end());
            return true;
        }
        case query::ExprKind::and_op: {
            // Each constraining conjunct alone is necessary; the strongest one is kept.
            bool found = false;
            std::vector<IndexKey> best;
            for (const query::Expr& child : e.children) {
                std::vector<IndexKey> mine;
                if (!required_keys(child, mine, field_of)) continue;
                sort_keys(mine);
                if (!found || weakness(mine) < weakness(best)) best = std::move(mine);
                found = true;
            }
            if (found) keys.insert(keys.end(), best.begin(), best.end());
            return found;
        }
        case query::ExprKind::or_op:
            // Every branch must give keys; the event then has one of their union.
            for (const query::Expr& child : e.children) {
                if (!required_keys(child, keys, field_of)) return false;
            }
            return !e.children.empty();
        default:
            // `not`, regexes, comparisons, existence, CIDR ranges, field relations: no finite set.
            return false;
    }
}

}  // namespace scanwatch::rules
