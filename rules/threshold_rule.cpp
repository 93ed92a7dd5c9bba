#include "rules/threshold_rule.h"

#include <algorithm>
#include <limits>

#include <xxhash.h>

#include "rules/engine_state.h"

namespace scanwatch::rules {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

struct SecondCount {
    std::int64_t second;
    std::uint64_t count;
    EventRef first;  // first event counted in that second
};

struct ValueSeen {
    std::uint64_t hash;
    std::int64_t last_ms;
};

}  // namespace

// A group keeps at most one entry per distinct value still in the window, and it fires and
// clears when they reach the cardinality: that bounds it by the rule, not by the input.
struct ThresholdRule::Group {
    std::string key;
    std::vector<std::pair<std::string, std::string>> terms;
    std::int64_t last_ms = kNever;
    std::int64_t spent_until = kNever;
    std::list<ValueSeen> values_by_time;  // oldest last-seen first
    std::unordered_map<std::uint64_t, std::list<ValueSeen>::iterator> values;
    std::deque<SecondCount> seconds;  // event counts per second of event time, oldest first
    std::uint64_t events = 0;         // sum of seconds[].count
    std::vector<std::string> sample_commands;
    std::vector<std::string> sample_values;
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
        while (!values_by_time.empty() && values_by_time.front().last_ms < cutoff_ms) {
            values.erase(values_by_time.front().hash);
            values_by_time.pop_front();
        }
        // A second counts while any of its milliseconds is inside the window.
        while (!seconds.empty() && seconds.front().second * 1000 + 999 < cutoff_ms) {
            events -= seconds.front().count;
            seconds.pop_front();
        }
    }

    void see_value(std::uint64_t hash, std::int64_t time_ms) {
        // Keep the list ordered by time; out-of-order events land a few places from the end.
        const auto place = [this](std::int64_t t) {
            auto pos = values_by_time.end();
            while (pos != values_by_time.begin() && std::prev(pos)->last_ms > t) --pos;
            return pos;
        };
        const auto found = values.find(hash);
        if (found != values.end()) {
            const auto node = found->second;
            if (node->last_ms >= time_ms) return;
            node->last_ms = time_ms;
            values_by_time.splice(place(time_ms), values_by_time, node);  // moved, not reallocated
            return;
        }
        values.emplace(hash, values_by_time.insert(place(time_ms), ValueSeen{hash, time_ms}));
    }
};

ThresholdRule::ThresholdRule(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : rule_(std::move(rule)),
      options_(options),
      group_by_(*rule_, options.session_grouping),
      watermark_ms_(kNever) {}

ThresholdRule::~ThresholdRule() = default;

ThresholdRule::Group& ThresholdRule::find_group(const std::string& key, std::int64_t now_ms) {
    auto found = groups_.find(key);
    if (found != groups_.end()) {
        lru_.splice(lru_.begin(), lru_, found->second);
        return *lru_.front();
    }
    expire_groups(now_ms);
    if (groups_.size() >= options_.max_groups && !lru_.empty()) {
        if (lru_.back()->events > 0) ++counters_.groups_evicted;
        groups_.erase(lru_.back()->key);
        lru_.pop_back();
    }
    lru_.push_front(std::make_unique<Group>());
    Group& g = *lru_.front();
    g.key = key;
    groups_.emplace(key, lru_.begin());
    counters_.groups = groups_.size();
    return g;
}

// Groups untouched for a whole window hold nothing that can count again: late events for them
// are rejected by the watermark check before a group is looked up.
void ThresholdRule::expire_groups(std::int64_t now_ms) {
    const std::int64_t cutoff = now_ms - rule_->from_ms;
    while (!lru_.empty() && lru_.back()->last_ms < cutoff) {
        groups_.erase(lru_.back()->key);
        lru_.pop_back();
    }
    counters_.groups = groups_.size();
}

void ThresholdRule::add_event(Group& g, const ProcessEvent& event, const EventFields& fields) {
    const std::int64_t second =
        event.time_ms >= 0 ? event.time_ms / 1000 : (event.time_ms - 999) / 1000;
    auto it = std::find_if(g.seconds.rbegin(), g.seconds.rend(),
                           [second](const SecondCount& s) { return s.second <= second; });
    if (it != g.seconds.rend() && it->second == second) {
        ++it->count;
        if (event.time_ms < it->first.time_ms)
            it->first = EventRef{event.event_id(), event.time_ms};
    } else {
        g.seconds.insert(it.base(),
                         SecondCount{second, 1, EventRef{event.event_id(), event.time_ms}});
    }
    ++g.events;

    if (g.sample_commands.size() < options_.sample_commands) {
        g.sample_commands.push_back(event.command_line());
    }
    if (rule_->cardinality) {
        fields.any_value(rule_->cardinality->field_id, [&](std::string_view v) {
            const std::uint64_t h = XXH3_64bits(v.data(), v.size());
            const bool is_new = g.values.find(h) == g.values.end();
            g.see_value(h, event.time_ms);
            if (is_new && g.sample_values.size() < options_.sample_values)
                g.sample_values.emplace_back(v);
            return false;  // visit every value
        });
    }
    g.last_ms = std::max(g.last_ms, event.time_ms);
}

bool ThresholdRule::crossed(const Group& g) const {
    if (g.events < rule_->threshold_value) return false;
    return !rule_->cardinality || g.values.size() >= rule_->cardinality->value;
}

Alert ThresholdRule::make_alert(Group& g, const ProcessEvent& event) {
    Alert a;
    a.rule = rule_;
    a.time_ms = event.time_ms;
    a.terms = g.terms;
    a.count = g.events;
    a.cardinality = g.values.size();
    a.from_ms = g.seconds.empty() ? event.time_ms : g.seconds.front().first.time_ms;
    a.host_name = event.host_name;
    Evidence& ev = a.evidence;
    ev.process_name = event.name;
    ev.process_pid = event.pid;
    ev.parent_pid = event.ppid;
    ev.parent_executable = event.parent_executable;
    ev.user_id = event.user.id;
    ev.user_name = event.user.name;
    ev.audit_user_id = event.audit_user.id;
    ev.audit_user_name = event.audit_user.name;
    ev.working_directory = event.working_directory;
    ev.first_event =
        g.seconds.empty() ? EventRef{event.event_id(), event.time_ms} : g.seconds.front().first;
    ev.last_event = EventRef{event.event_id(), event.time_ms};
    ev.sample_command_lines = std::move(g.sample_commands);
    ev.sample_values = std::move(g.sample_values);
    a.uuid = alert_uuid(a);
    return a;
}

bool ThresholdRule::count(const ProcessEvent& event, std::vector<Alert>& alerts) {
    const EventFields fields(event, options_.name_match);
    if (!rule_->query.matches(fields)) return false;
    ++counters_.matched;
    if (rule_->excepted(fields)) {
        ++counters_.excepted;
        return false;
    }
    bool grouped = false;
    for (std::size_t which = 0; which < group_by_.groupings() && !grouped; ++which) {
        grouped = group_by_.key(which, fields, key_, scratch_);
    }
    if (!grouped) {
        ++counters_.missing_group_field;
        return false;
    }
    if (watermark_ms_ != kNever && event.time_ms < watermark_ms_ - rule_->from_ms) {
        ++counters_.late;
        return false;
    }
    watermark_ms_ = std::max(watermark_ms_, event.time_ms);
    // Matched only through the wider name match: the elastic profile (comm) would not count it.
    const bool beyond_comm = options_.name_match != NameMatch::comm &&
                             !rule_->query.matches(EventFields(event, NameMatch::comm));

    // The rule's own grouping first: when both cross on one exec, the alert is the one
    // Elastic's grouping gives. Whichever alerts, the exec's other group is spent with it, so
    // one sweep never alerts twice.
    const std::size_t alerts_before = alerts.size();
    bool alerted = false;
    bool spent = true;
    for (std::size_t which = 0; which < group_by_.groupings(); ++which) {
        if (!group_by_.key(which, fields, key_, scratch_)) continue;
        Group& g = find_group(key_, watermark_ms_);
        if (g.terms.empty()) group_by_.terms(which, fields, g.terms, scratch_);
        if (alerted) {
            g.spent_until = std::max(g.spent_until, event.time_ms);
            g.reset_counts();
            continue;
        }
        if (event.time_ms <= g.spent_until) continue;
        spent = false;
        g.expire(std::max(g.last_ms, event.time_ms) - rule_->from_ms);
        add_event(g, event, fields);
        g.beyond_comm = g.beyond_comm || beyond_comm;
        if (!crossed(g)) continue;
        alerted = alert(g, event, which == 1 || g.beyond_comm, alerts);
        if (which == 1 && alerted) {
            // The parent group of the crossing exec is spent too.
            if (group_by_.key(0, fields, key_, scratch_)) {
                Group& parent = find_group(key_, watermark_ms_);
                if (parent.terms.empty()) group_by_.terms(0, fields, parent.terms, scratch_);
                parent.spent_until = std::max(parent.spent_until, event.time_ms);
                parent.reset_counts();
            }
        }
    }
    if (spent) ++counters_.spent;
    return alerts.size() > alerts_before;
}

// The group crossed on `event`: its events are spent whether or not max_signals lets the
// alert out. Returns true (the exec's other group is then spent too).
bool ThresholdRule::alert(Group& g, const ProcessEvent& event, bool hardening_only,
                          std::vector<Alert>& alerts) {
    const std::int64_t bucket = event.time_ms / rule_->interval_ms;
    if (bucket > signal_bucket_) {
        signal_bucket_ = bucket;
        signals_in_bucket_ = 0;
    }
    Alert a = make_alert(g, event);
    g.spent_until = event.time_ms;
    g.reset_counts();
    if (signals_in_bucket_ >= rule_->max_signals) {
        ++counters_.held_back;
        return true;  // spent all the same: the other grouping must not alert on it either
    }
    ++signals_in_bucket_;
    ++counters_.alerts;
    if (hardening_only) ++counters_.alerts_hardening_only;
    alerts.push_back(std::move(a));
    return true;
}

using detail::hex;
using detail::hex_list;
using detail::unhex;
using detail::unhex_list;

nlohmann::json ThresholdRule::save_state() const {
    nlohmann::json groups = nlohmann::json::array();
    // Least recently used first, so restoring in order rebuilds the same LRU order.
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
        const Group& g = **it;
        nlohmann::json terms = nlohmann::json::array();
        for (const auto& [field, value] : g.terms) terms.push_back({field, hex(value)});
        nlohmann::json values = nlohmann::json::array();
        for (const auto& v : g.values_by_time) values.push_back({v.hash, v.last_ms});
        nlohmann::json seconds = nlohmann::json::array();
        for (const auto& s : g.seconds)
            seconds.push_back({s.second, s.count, s.first.id, s.first.time_ms});
        groups.push_back({{"key", hex(g.key)},
                          {"terms", terms},
                          {"last_ms", g.last_ms},
                          {"spent_until", g.spent_until},
                          {"values", values},
                          {"seconds", seconds},
                          {"sample_commands", hex_list(g.sample_commands)},
                          {"sample_values", hex_list(g.sample_values)}});
    }
    return {{"engine", "streaming"},
            {"watermark_ms", watermark_ms_},
            {"signal_bucket", signal_bucket_},
            {"signals_in_bucket", signals_in_bucket_},
            {"groups", groups}};
}

bool ThresholdRule::restore_state(const nlohmann::json& state) {
    try {
        if (!state.is_object() || state.at("engine") != "streaming") return false;
        std::list<std::unique_ptr<Group>> lru;
        std::unordered_map<std::string, std::list<std::unique_ptr<Group>>::iterator> groups;
        for (const auto& j : state.at("groups")) {
            auto g = std::make_unique<Group>();
            g->key = unhex(j.at("key").get<std::string>());
            for (const auto& t : j.at("terms")) {
                g->terms.emplace_back(t.at(0).get<std::string>(),
                                      unhex(t.at(1).get<std::string>()));
            }
            g->last_ms = j.at("last_ms").get<std::int64_t>();
            g->spent_until = j.at("spent_until").get<std::int64_t>();
            for (const auto& v : j.at("values")) {
                g->see_value(v.at(0).get<std::uint64_t>(), v.at(1).get<std::int64_t>());
            }
            for (const auto& s : j.at("seconds")) {
                g->seconds.push_back(
                    SecondCount{s.at(0).get<std::int64_t>(), s.at(1).get<std::uint64_t>(),
                                EventRef{s.at(2).get<std::string>(), s.at(3).get<std::int64_t>()}});
                g->events += g->seconds.back().count;
            }
            g->sample_commands = unhex_list(j.at("sample_commands"));
            g->sample_values = unhex_list(j.at("sample_values"));
            const std::string key = g->key;
            lru.push_front(std::move(g));
            groups[key] = lru.begin();
        }
        watermark_ms_ = state.at("watermark_ms").get<std::int64_t>();
        signal_bucket_ = state.at("signal_bucket").get<std::int64_t>();
        signals_in_bucket_ = state.at("signals_in_bucket").get<std::uint64_t>();
        lru_ = std::move(lru);
        groups_ = std::move(groups);
        counters_.groups = groups_.size();
        return true;
    } catch (const std::exception&) {
        return false;  // a state from another version, or damaged: start empty
    }
}

}  // namespace scanwatch::rules
