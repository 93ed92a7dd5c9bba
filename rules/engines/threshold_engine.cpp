#include "rules/engines/threshold_engine.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <list>
#include <set>
#include <utility>
#include <unordered_map>

#include <xxhash.h>

#include "rules/engines/engine_state.h"
#include "rules/engines/second_counts.h"

namespace scanwatch::rules {
namespace {

using detail::kNever;

// GroupBy's groupings (rules/engines/group_by.h): the rule's own fields, and in the hardened
// profile the lineage (session, parents' parent or user) in place of the parent.
constexpr std::size_t kRuleGrouping = 0;
constexpr std::size_t kLineageGrouping = 1;

int name_field() {
    static const int id = FieldCatalog::known_id("process.name");
    return id;
}

}  // namespace

// A group keeps at most one entry per distinct value still in the window, and at most as many
// as the cardinality: past it, only the most recently seen ones can decide a crossing (if at
// least `cardinality` values are in a later window, the `cardinality` most recent ones are), so
// the least recently seen goes. That bounds a group by the rule, not by the input, also when the
// event count is still short of `value` (docs/rules.md, "Memory").
struct ThresholdEngine::Group : GroupBase {
    std::set<std::pair<std::int64_t, std::uint64_t>> values_by_time;  // (last seen, hash), oldest first
    std::unordered_map<std::uint64_t, std::int64_t> values;           // hash -> last seen
    SecondCounts<std::string> seconds;  // the first event's id of each second

    bool beyond_comm = false;  // counted an exec only the wider name match saw

    void reset_counts() {
        beyond_comm = false;
        values_by_time.clear();
        values.clear();
        seconds.clear();
        events = 0;
        sample_commands.clear();
        sample_values.clear();
    }

    void expire(std::int64_t cutoff_ms) {
        while (!values_by_time.empty() && values_by_time.begin()->first < cutoff_ms) {
            values.erase(values_by_time.begin()->second);
            values_by_time.erase(values_by_time.begin());
        }
        events -= seconds.expire(cutoff_ms);
    }

    // Records `hash` seen at `time_ms`, keeping at most `keep` values; O(log n) in any order.
    // Returns false when the value was already kept (and is now the later of both times).
    bool see_value(std::uint64_t hash, std::int64_t time_ms, std::uint64_t keep) {
        // Entries move by their nodes (extract, change, insert): a group at its cap allocates
        // nothing per event.
        const auto found = values.find(hash);
        if (found != values.end()) {
            if (found->second >= time_ms) return false;
            auto node = values_by_time.extract({found->second, hash});
            node.value() = {time_ms, hash};
            values_by_time.insert(std::move(node));
            found->second = time_ms;
            return false;
        }
        if (keep == 0) return true;
        if (values.size() >= keep) {
            const auto oldest = values_by_time.begin();
            if (oldest->first >= time_ms) return true;  // older than every kept value: no use
            auto value_node = values.extract(oldest->second);
            auto time_node = values_by_time.extract(oldest);
            value_node.key() = hash;
            value_node.mapped() = time_ms;
            time_node.value() = {time_ms, hash};
            values.insert(std::move(value_node));
            values_by_time.insert(std::move(time_node));
            return true;
        }
        values.emplace(hash, time_ms);
        values_by_time.emplace(time_ms, hash);
        return true;
    }
};

ThresholdEngine::ThresholdEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : RuleEngine(std::move(rule), options),
      group_by_(*rule_, options_.session_grouping),
      watermark_ms_(kNever),
      groups_(std::make_unique<GroupTable<Group>>(options_.max_groups, counters_)) {}

ThresholdEngine::~ThresholdEngine() = default;

// How near a group is to its threshold, for the group table's eviction order: distinct values
// (a one-off exec holds a handful, a sweep's group grows by one per target), or events when the
// rule counts no values.
std::uint32_t ThresholdEngine::nearest_permille() const {
    return permille_of(groups_->heaviest(),
                       rule_->cardinality ? rule_->cardinality->value : rule_->threshold_value);
}

std::uint64_t ThresholdEngine::weight(const Group& g) const {
    return group_weight(*rule_, g);
}

ThresholdEngine::Group& ThresholdEngine::find_group(std::size_t which, const EventFields& fields,
                                                std::int64_t now_ms) {
    if (Group* found = groups_->find(key_)) return *found;
    // Groups untouched for a whole window hold nothing that can count again: late events for
    // them are rejected by the watermark check before a group is looked up.
    const std::int64_t cutoff = now_ms - rule_->from_ms;
    groups_->drop_lru_while([cutoff](const Group& g) { return g.last_ms < cutoff; });
    Group& g = groups_->add(key_);
    counters_.truncated += group_by_.terms(which, fields, g.terms, scratch_);
    return g;
}

void ThresholdEngine::add_event(Group& g, const ProcessEvent& event, const EventFields& fields) {
    g.seconds.add(event.time_ms, [&event] { return event.event_id(); });
    ++g.events;

    counters_.truncated += add_sample_command(g.sample_commands, options_.sample_commands, event);
    if (rule_->cardinality) {
        const int field = rule_->cardinality->field_id;
        if (!values_hashed_) {
            value_hashes_.clear();
            fields.any_value(field, [this](std::string_view v) {
                value_hashes_.push_back(XXH3_64bits(v.data(), v.size()));
                return false;  // visit every value
            });
            values_hashed_ = true;
        }
        const std::uint64_t keep = rule_->cardinality->value;
        if (g.sample_values.size() >= options_.sample_values) {
            for (const std::uint64_t h : value_hashes_) g.see_value(h, event.time_ms, keep);
        } else {
            std::size_t i = 0;
            fields.any_value(field, [&](std::string_view v) {
                const std::uint64_t h = value_hashes_[i++];
                const bool is_new = g.see_value(h, event.time_ms, keep);
                if (is_new) {
                    counters_.truncated += add_sample_value(g.sample_values, options_.sample_values, v);
                }
                return i == value_hashes_.size();  // the same values, in the same order
            });
        }
    }
    g.last_ms = std::max(g.last_ms, event.time_ms);
}

bool ThresholdEngine::crossed(const Group& g) const {
    if (g.events < rule_->threshold_value) return false;
    return !rule_->cardinality || g.values.size() >= rule_->cardinality->value;
}

Alert ThresholdEngine::make_alert(Group& g, const ProcessEvent& event) {
    Alert a;
    a.rule = rule_;
    a.time_ms = event.time_ms;
    a.terms = g.terms;
    a.count = g.events;
    a.cardinality = g.values.size();
    a.from_ms = g.seconds.empty() ? event.time_ms : g.seconds.front().first_ms;
    a.host_name = event.host_name;
    Evidence& ev = a.evidence;
    fill_evidence(ev, event);
    ev.first_event =
        g.seconds.empty() ? EventRef{event.event_id(), event.time_ms}
                          : EventRef{g.seconds.front().first, g.seconds.front().first_ms};
    ev.last_event = EventRef{event.event_id(), event.time_ms};
    ev.sample_command_lines = std::move(g.sample_commands);
    ev.sample_values = std::move(g.sample_values);
    counters_.truncated += cap_evidence(ev, a.host_name);
    a.uuid = alert_uuid(a);
    return a;
}

// The first grouping the event has a key for, its key left in key_; groupings() when none has.
std::size_t ThresholdEngine::first_keyed(const EventFields& fields) {
    std::size_t first = 0;
    while (first < group_by_.groupings() && !group_by_.key(first, fields, key_, scratch_)) ++first;
    return first;
}

// An event older than the window behind the latest one counted counts nowhere (its groups may be
// gone); any other moves the watermark.
bool ThresholdEngine::in_window(std::int64_t time_ms) {
    if (watermark_ms_ != kNever && time_ms < watermark_ms_ - rule_->from_ms) return false;
    watermark_ms_ = std::max(watermark_ms_, time_ms);
    return true;
}

// Matched only through the wider name match: the elastic profile (comm) would not count it.
// Only an exec with a name besides comm (exe, argv[0], applet...) can be one: the query is
// matched again under comm only for those, not for every matched exec.
bool ThresholdEngine::beyond_comm(const ProcessEvent& event, const EventFields& fields) const {
    return options_.name_match != NameMatch::comm &&
           fields.any_value(name_field(), [&event](std::string_view v) { return v != event.name; }) &&
           !rule_->query.matches(EventFields(event, NameMatch::comm));
}

// Counts the event in the group of grouping `which` (key_ holds its key).
ThresholdEngine::Counted ThresholdEngine::count_in(std::size_t which, const ProcessEvent& event,
                                                   const EventFields& fields, bool wider_name,
                                                   std::vector<Alert>& alerts) {
    Group& g = find_group(which, fields, watermark_ms_);
    if (event.time_ms <= g.spent_until) {
        groups_->rank(g, weight(g));
        return Counted::already_spent;
    }
    g.expire(std::max(g.last_ms, event.time_ms) - rule_->from_ms);
    add_event(g, event, fields);
    g.beyond_comm = g.beyond_comm || wider_name;
    if (!crossed(g)) {
        groups_->rank(g, weight(g));
        return Counted::below_threshold;
    }
    alert(g, event, which == kLineageGrouping || g.beyond_comm, alerts);
    return Counted::crossed;
}

bool ThresholdEngine::count(const ProcessEvent& event, std::vector<Alert>& alerts) {
    const EventFields fields(event, options_.name_match);
    values_hashed_ = false;
    if (!admits(fields)) return false;
    const std::size_t first = first_keyed(fields);
    if (first == group_by_.groupings()) {
        ++counters_.missing_group_field;
        return false;
    }
    if (!in_window(event.time_ms)) {
        ++counters_.late;
        return false;
    }
    const bool wider_name = beyond_comm(event, fields);

    // The rule's own grouping first: when both cross on one exec, the alert is the one
    // Elastic's grouping gives. Whichever alerts, the exec's other group is spent with it, so
    // one sweep never alerts twice (docs/detection.md, "Profiles and grouping").
    const std::size_t alerts_before = alerts.size();
    bool crossed_one = false;
    bool all_spent = true;
    for (std::size_t which = 0; which < group_by_.groupings(); ++which) {
        const bool key_ready = which == first;  // first_keyed() left this grouping's key in key_
        if (!key_ready && !group_by_.key(which, fields, key_, scratch_)) continue;
        if (crossed_one) {
            spend(which, fields, event.time_ms);
            continue;
        }
        const Counted counted = count_in(which, event, fields, wider_name, alerts);
        if (counted == Counted::already_spent) continue;
        all_spent = false;
        if (counted != Counted::crossed) continue;
        crossed_one = true;
        if (which == kLineageGrouping && group_by_.key(kRuleGrouping, fields, key_, scratch_)) {
            spend(kRuleGrouping, fields, event.time_ms);  // the crossing exec's parent group too
        }
    }
    if (all_spent) ++counters_.spent;
    return alerts.size() > alerts_before;
}

// The group of grouping `which` (key_ already built) is spent up to `time_ms`.
void ThresholdEngine::spend(std::size_t which, const EventFields& fields, std::int64_t time_ms) {
    Group& g = find_group(which, fields, watermark_ms_);
    g.spent_until = std::max(g.spent_until, time_ms);
    g.reset_counts();
    groups_->rank(g, weight(g));
}

// The group crossed on `event`: its events are spent whether or not max_signals lets the
// alert out (the exec's other group is then spent too).
void ThresholdEngine::alert(Group& g, const ProcessEvent& event, bool hardening_only,
                            std::vector<Alert>& alerts) {
    Alert a = make_alert(g, event);
    g.spent_until = event.time_ms;
    g.reset_counts();
    groups_->rank(g, weight(g));
    if (!signals_.take(*rule_, event.time_ms, counters_)) return;  // held back, spent all the same
    if (hardening_only) ++counters_.alerts_hardening_only;
    alerts.push_back(std::move(a));
}

using detail::hex;
using detail::hex_list;
using detail::unhex;
using detail::unhex_list;

using detail::get_int64;
using detail::get_uint64;

nlohmann::json ThresholdEngine::save_state() const {
    nlohmann::json groups = groups_->save([](const Group& g, nlohmann::json& j) {
        nlohmann::json values = nlohmann::json::array();
        for (const auto& [last_ms, hash] : g.values_by_time) values.push_back({hash, last_ms});
        nlohmann::json seconds = nlohmann::json::array();
        for (const auto& s : g.seconds)
            seconds.push_back({s.second, s.count, s.first, s.first_ms});
        j["values"] = std::move(values);
        j["seconds"] = std::move(seconds);
        if (g.beyond_comm) j["beyond_comm"] = true;  // absent in older states: false
    });
    nlohmann::json state{{"engine", "streaming"}, {"watermark_ms", watermark_ms_}, {"groups", std::move(groups)}};
    signals_.save(state);
    return state;
}

bool ThresholdEngine::restore_state(const nlohmann::json& state) {
    const auto restore_group = [&](const nlohmann::json& j, Group& g, std::uint64_t& w) {
        // Saved oldest first; anything else is damage. A state saved before values were capped
        // at the cardinality keeps its most recent ones.
        const std::uint64_t keep = rule_->cardinality ? rule_->cardinality->value : 0;
        std::int64_t previous = kNever;
        for (const auto& v : j.at("values")) {
            const std::int64_t last_ms = get_int64(v.at(1));
            if (last_ms < previous) return false;
            previous = last_ms;
            const std::uint64_t hash = get_uint64(v.at(0));
            if (g.values.count(hash) != 0) return false;  // a hash twice
            g.see_value(hash, last_ms, keep);
        }
        for (const auto& s : j.at("seconds")) {
            const std::uint64_t count = get_uint64(s.at(1));
            if (!g.seconds.restore({get_int64(s.at(0)), count, get_int64(s.at(3)),
                                    s.at(2).get<std::string>()})) {
                return false;
            }
            g.events += count;
        }
        if (const auto it = j.find("beyond_comm"); it != j.end()) {
            if (!it->is_boolean()) return false;
            g.beyond_comm = it->get<bool>();
        }
        w = weight(g);
        return true;
    };
    return detail::restore_engine(state, "streaming", [&] {
        const std::int64_t watermark = get_int64(state.at("watermark_ms"));
        const SignalBudget signals = SignalBudget::restored(state);
        if (!groups_->restore(state.at("groups"), options_, restore_group)) return false;
        watermark_ms_ = watermark;
        signals_ = signals;
        return true;
    });
}

}  // namespace scanwatch::rules
