#pragma once
// Internal to rules/: the group table both threshold engines keep (docs/detection.md, "Memory
// bounds"): lookup by group key, a cap on the number of groups with eviction of the group that can
// least matter, expiry, key building, and the save/restore of what every group has.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"
#include "rules/alert_caps.h"
#include "rules/event_fields.h"
#include "rules/rule.h"
#include "rules/engines/engine.h"

namespace scanwatch::rules {

/// How near a group is to its threshold, for the group table's eviction order: distinct values
/// (a one-off exec holds a handful, a sweep's group grows by one per target), or events when the
/// rule counts no values. For the streaming and the scheduled threshold engines' groups.
template <typename Group>
std::uint64_t group_weight(const RuleDefinition& rule, const Group& g) {
    return rule.cardinality ? g.values.size() : g.events;
}

struct GroupBase;

namespace detail {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

// A group's place in the eviction order: least weight first, then least recently ranked.
struct Rank {
    std::uint64_t weight;
    std::uint64_t seq;
    GroupBase* group;
    bool operator<(const Rank& o) const {
        return weight != o.weight ? weight < o.weight : seq < o.seq;
    }
};

}  // namespace detail

/// `weight` in thousandths of `needed`, at most 1000.
inline std::uint32_t permille_of(std::uint64_t weight, std::uint64_t needed) {
    if (needed == 0 || weight >= needed) return weight == 0 ? 0 : 1000;
    return static_cast<std::uint32_t>(weight * 1000 / needed);
}

/// What every group holds whatever the engine; an engine's group derives from it.
struct GroupBase {
    std::string key;  ///< never changed once the group is in a table
    std::vector<std::pair<std::string, std::string>> terms;  ///< group-by field, value (capped)
    std::int64_t last_ms = detail::kNever;  ///< latest event counted
    std::int64_t spent_until = detail::kNever;
    std::uint64_t events = 0;  ///< events counted and not expired or spent
    std::vector<std::string> sample_commands;
    std::vector<std::string> sample_values;

private:
    template <class Group>
    friend class GroupTable;
    std::set<detail::Rank>::iterator rank_;
};

/// The fields of GroupBase as JSON object members of `out` (bytes hex-encoded).
void save_group_base(const GroupBase& g, nlohmann::json& out);

/// Reads what save_group_base() wrote; throws on a damaged or foreign shape (restore catches).
/// Samples beyond `options`' counts or byte caps are dropped or cut.
void restore_group_base(const nlohmann::json& j, const EngineOptions& options, GroupBase& g);

/// The groups of one rule engine, at most `max_groups` of them. When a new group needs room, the
/// group that can least matter goes: the least weight (the engine's measure of how near the group
/// is to its threshold), then the least recently ranked. O(log n) per lookup, rank and eviction.
template <class Group>
class GroupTable {
public:
    /// `counters` receives groups, groups_evicted and values_evicted{,_max}; it must outlive
    /// the table.
    GroupTable(std::size_t max_groups, RuleCounters& counters)
        : max_groups_(max_groups < 1 ? 1 : max_groups), counters_(&counters) {}

    /// The group of `key`, now the most recently used; null when there is none.
    Group* find(std::string_view key) {
        const auto found = index_.find(key);
        if (found == index_.end()) return nullptr;
        lru_.splice(lru_.begin(), lru_, found->second);
        return &lru_.front();
    }

    /// A new group for `key` (not in the table), the most recently used, with weight 0; when the
    /// table is full, the group that can least matter is evicted first.
    Group& add(std::string_view key) {
        if (index_.size() >= max_groups_) evict_one();
        lru_.emplace_front();
        Group& g = lru_.front();
        g.key.assign(key);
        g.rank_ = ranks_.insert(detail::Rank{0, ++seq_, &g}).first;
        index_.emplace(g.key, lru_.begin());
        counters_->groups = index_.size();
        return g;
    }

    /// Records that `g`'s weight is now `weight` (distinct values, or events for a rule without
    /// a cardinality) and that it was just used. Reuses the rank's node: no allocation.
    void rank(Group& g, std::uint64_t weight) {
        auto node = ranks_.extract(g.rank_);
        node.value().weight = weight;
        node.value().seq = ++seq_;
        g.rank_ = ranks_.insert(std::move(node)).position;
    }

    /// Records that `g`'s weight is now `weight` without counting it as a use (values expired at
    /// a scheduled run, counts reset by an alert).
    void reweigh(Group& g, std::uint64_t weight) {
        if (g.rank_->weight == weight) return;
        auto node = ranks_.extract(g.rank_);
        node.value().weight = weight;
        g.rank_ = ranks_.insert(std::move(node)).position;
    }

    /// Removes the least recently used groups while `stale(group)` holds (threshold expiry).
    template <class Pred>
    void drop_lru_while(Pred stale) {
        while (!lru_.empty() && stale(lru_.back())) erase(std::prev(lru_.end()));
        counters_->groups = index_.size();
    }

    /// Removes every group for which `stale(group)` holds.
    template <class Pred>
    void drop_if(Pred stale) {
        for (auto it = lru_.begin(); it != lru_.end();) {
            it = stale(*it) ? erase(it) : std::next(it);
        }
        counters_->groups = index_.size();
    }

    /// Every group, most recently used first.
    std::list<Group>& groups() { return lru_; }
    const std::list<Group>& groups() const { return lru_; }
    std::size_t size() const { return index_.size(); }
    /// The greatest weight of any group (0 when there is none).
    std::uint64_t heaviest() const { return ranks_.empty() ? 0 : ranks_.rbegin()->weight; }

    /// The groups as a JSON array, least recently used first (so restore() rebuilds the order):
    /// save_group_base() plus what `save_extra` adds.
    nlohmann::json save(const std::function<void(const Group&, nlohmann::json&)>& save_extra) const {
        nlohmann::json out = nlohmann::json::array();
        for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
            nlohmann::json j = nlohmann::json::object();
            save_group_base(*it, j);
            save_extra(*it, j);
            out.push_back(std::move(j));
        }
        return out;
    }

    /// Replaces the groups by those of `saved` (what save() gave): `restore_extra` reads the rest
    /// of a group and returns its weight. Beyond the cap, the least recently used are left out.
    /// False, with the table unchanged, on a duplicate key or a damaged group (restore_extra
    /// throws or fails).
    bool restore(const nlohmann::json& saved, const EngineOptions& options,
                 const std::function<bool(const nlohmann::json&, Group&, std::uint64_t&)>&
                     restore_extra) {
        GroupTable fresh(max_groups_, *counters_);
        if (!saved.is_array()) return false;
        // Saved under a larger --max-groups: the least recently used do not come back.
        std::size_t skip = saved.size() > max_groups_ ? saved.size() - max_groups_ : 0;
        for (const auto& j : saved) {
            if (skip > 0) {
                --skip;
                continue;
            }
            Group g;
            restore_group_base(j, options, g);
            std::uint64_t weight = 0;
            if (!restore_extra(j, g, weight)) return false;
            if (fresh.index_.count(g.key) != 0) return false;
            fresh.lru_.push_front(std::move(g));
            Group& placed = fresh.lru_.front();
            placed.rank_ = fresh.ranks_.insert(detail::Rank{weight, ++fresh.seq_, &placed}).first;
            fresh.index_.emplace(placed.key, fresh.lru_.begin());
        }
        lru_ = std::move(fresh.lru_);
        index_ = std::move(fresh.index_);
        ranks_ = std::move(fresh.ranks_);
        seq_ = fresh.seq_;
        counters_->groups = index_.size();
        return true;
    }

private:
    using Iter = typename std::list<Group>::iterator;

    Iter erase(Iter it) {
        ranks_.erase(it->rank_);
        index_.erase(std::string_view(it->key));
        return lru_.erase(it);
    }

    void evict_one() {
        const detail::Rank victim = *ranks_.begin();
        auto& g = static_cast<Group&>(*victim.group);
        if (g.events > 0) {
            ++counters_->groups_evicted;
            counters_->values_evicted += victim.weight;
            if (victim.weight > counters_->values_evicted_max)
                counters_->values_evicted_max = victim.weight;
        }
        erase(index_.find(std::string_view(g.key))->second);
    }

    std::size_t max_groups_;
    RuleCounters* counters_;
    std::list<Group> lru_;  // front: most recently used; nodes never move, so keys can be viewed
    std::unordered_map<std::string_view, Iter> index_;  // views Group::key
    std::set<detail::Rank> ranks_;
    std::uint64_t seq_ = 0;
};

}  // namespace scanwatch::rules
