#include "rules/scheduled_rule.h"

#include <algorithm>
#include <deque>
#include <limits>

#include <xxhash.h>

#include "rules/engine_state.h"

namespace scanwatch::rules {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();
// Event times are clamped to this range for schedule arithmetic, so no input can overflow it.
constexpr std::int64_t kTimeLimit = std::int64_t{1} << 60;

std::int64_t clamp_time(std::int64_t t) {
    return std::clamp(t, -kTimeLimit, kTimeLimit);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t second_of(std::int64_t time_ms) {
    return floor_div(time_ms, 1000);
}

// Runs are aligned to the epoch: the first run at or after `t`.
std::int64_t run_at_or_after(std::int64_t t, std::int64_t interval_ms) {
    return -floor_div(-t, interval_ms) * interval_ms;
}

struct SecondCount {
    std::int64_t second;
    std::uint64_t count;
    std::int64_t first_ms;  // earliest event counted in that second
    std::uint64_t first_serial;
};

EventRef event_ref(std::int64_t time_ms, std::uint64_t serial) {
    ProcessEvent e;  // reuses the one formatting of audit event ids
    e.time_ms = time_ms;
    e.serial = serial;
    return EventRef{e.event_id(), time_ms};
}

// max(4 x cardinality, 1000), but never more than max(cardinality, 2^20): the cap must reach the
// cardinality to decide, and beyond that a rule asking for millions of values gets no slack.
std::size_t value_cap_for(const RuleDefinition& rule) {
    constexpr std::uint64_t kFloor = 1000;
    constexpr std::uint64_t kSlackLimit = std::uint64_t{1} << 20;
    const std::uint64_t card = rule.cardinality ? rule.cardinality->value : 0;
    const std::uint64_t four = card > kSlackLimit ? card : card * 4;
    const std::uint64_t cap = std::max(std::min(four, std::max(card, kSlackLimit)), kFloor);
    return static_cast<std::size_t>(
        std::min<std::uint64_t>(cap, std::numeric_limits<std::size_t>::max() / 2));
}

}  // namespace

// Between runs a group only grows, so unlike the streaming rule it cannot clear itself at the
// cardinality: distinct values are capped instead, keeping the most recently seen (the ones later
// windows can still hold), which keeps a run's count exact up to the cap. Per-second event counts
// are exact here because runs and windows fall on whole seconds (durations are whole seconds).
struct ScheduledRule::Group {
    std::string key;
    std::vector<std::pair<std::string, std::string>> terms;
    std::int64_t last_ms = kNever;  // latest event counted
    std::uint64_t last_serial = 0;
    std::int64_t spent_until = kNever;
    std::deque<SecondCount> seconds;                         // oldest first
    std::uint64_t events = 0;                                // sum of seconds[].count
    std::unordered_map<std::uint64_t, std::int64_t> values;  // value hash -> last seen
    Evidence latest;  // who and where of the latest event; refs and samples filled at alert time
    std::string host_name;
    std::vector<std::string> sample_commands;
    std::vector<std::string> sample_values;
    bool hardening_only = false;  // grouped by session, or counted an exec only `any` names

    void reset_counts() {
        seconds.clear();
        events = 0;
        values.clear();
        sample_commands.clear();
        sample_values.clear();
        hardening_only = false;
    }

    void expire(std::int64_t cutoff_ms) {
        while (!seconds.empty() && seconds.front().second * 1000 + 999 < cutoff_ms) {
            events -= seconds.front().count;
            seconds.pop_front();
        }
        for (auto it = values.begin(); it != values.end();) {
            it = it->second < cutoff_ms ? values.erase(it) : std::next(it);
        }
    }

    // Keeps the `cap` most recently seen values (ties broken arbitrarily but deterministically).
    void compact(std::size_t cap) {
        if (values.size() <= cap) return;
        std::vector<std::int64_t> times;
        times.reserve(values.size());
        for (const auto& v : values) times.push_back(v.second);
        const auto nth = times.begin() + static_cast<std::ptrdiff_t>(times.size() - cap);
        std::nth_element(times.begin(), nth, times.end());
        const std::int64_t cutoff = *nth;
        for (auto it = values.begin(); it != values.end();) {
            it = it->second < cutoff ? values.erase(it) : std::next(it);
        }
        for (auto it = values.begin(); it != values.end() && values.size() > cap;) {
            it = it->second == cutoff ? values.erase(it) : std::next(it);
        }
    }
};

ScheduledRule::ScheduledRule(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : rule_(std::move(rule)),
      options_(options),
      group_by_(*rule_, options.session_grouping),
      value_cap_(value_cap_for(*rule_)),
      next_run_ms_(kNever),
      watermark_ms_(kNever) {}

ScheduledRule::~ScheduledRule() = default;

ScheduledRule::Group& ScheduledRule::find_group(const std::string& key) {
    auto found = groups_.find(key);
    if (found != groups_.end()) {
        lru_.splice(lru_.begin(), lru_, found->second);
        return *lru_.front();
    }
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

void ScheduledRule::drop_groups_before(std::int64_t time_ms) {
    for (auto it = lru_.begin(); it != lru_.end();) {
        if ((*it)->last_ms < time_ms) {
            groups_.erase((*it)->key);
            it = lru_.erase(it);
        } else {
            ++it;
        }
    }
    counters_.groups = groups_.size();
}

void ScheduledRule::add_event(Group& g, const ProcessEvent& event, const EventFields& fields) {
    const std::int64_t t = event.time_ms;
    const std::int64_t second = second_of(t);
    auto it = std::find_if(g.seconds.rbegin(), g.seconds.rend(),
                           [second](const SecondCount& s) { return s.second <= second; });
    if (it != g.seconds.rend() && it->second == second) {
        ++it->count;
        if (t < it->first_ms) {
            it->first_ms = t;
            it->first_serial = event.serial;
        }
    } else {
        g.seconds.insert(it.base(), SecondCount{second, 1, t, event.serial});
    }
    ++g.events;

    if (g.sample_commands.size() < options_.sample_commands) {
        g.sample_commands.push_back(event.command_line());
    }
    if (rule_->cardinality) {
        fields.any_value(rule_->cardinality->field_id, [&](std::string_view v) {
            const std::uint64_t h = XXH3_64bits(v.data(), v.size());
            auto [pos, is_new] = g.values.try_emplace(h, t);
            if (!is_new) {
                pos->second = std::max(pos->second, t);
            } else {
                if (g.sample_values.size() < options_.sample_values)
                    g.sample_values.emplace_back(v);
                // Compacting in batches keeps the cost per new value constant.
                if (g.values.size() > value_cap_ + value_cap_ / 4) g.compact(value_cap_);
            }
            return false;  // visit every value
        });
    }
    if (t >= g.last_ms) {
        g.last_ms = t;
        g.last_serial = event.serial;
        Evidence& ev = g.latest;
        ev.process_name = event.name;
        ev.process_pid = event.pid;
        ev.parent_pid = event.ppid;
        ev.parent_executable = event.parent_executable;
        ev.user_id = event.user.id;
        ev.user_name = event.user.name;
        ev.audit_user_id = event.audit_user.id;
        ev.audit_user_name = event.audit_user.name;
        ev.working_directory = event.working_directory;
        g.host_name = event.host_name;
    }
}

Alert ScheduledRule::make_alert(Group& g, std::int64_t run_ms) {
    Alert a;
    a.rule = rule_;
    a.time_ms = run_ms;
    a.terms = g.terms;
    a.count = g.events;
    a.cardinality = g.values.size();
    const SecondCount& first = g.seconds.front();
    a.from_ms = first.first_ms;
    a.host_name = g.host_name;
    a.evidence = g.latest;
    a.evidence.first_event = event_ref(first.first_ms, first.first_serial);
    a.evidence.last_event = event_ref(g.last_ms, g.last_serial);
    a.evidence.sample_command_lines = std::move(g.sample_commands);
    a.evidence.sample_values = std::move(g.sample_values);
    a.uuid = alert_uuid(a);
    return a;
}

void ScheduledRule::run(std::int64_t run_ms, std::vector<Alert>& alerts) {
    ++runs_;
    const std::int64_t window_start = run_ms - rule_->from_ms;
    qualifying_.clear();
    for (auto& group : lru_) {
        Group& g = *group;
        g.expire(window_start);
        if (g.events == 0 || g.events < rule_->threshold_value) continue;
        if (rule_->cardinality && g.values.size() < rule_->cardinality->value) continue;
        qualifying_.push_back(&g);
    }
    // Kibana pages a composite aggregation over the group-by terms, ascending, and keeps the
    // first max_signals buckets.
    std::sort(qualifying_.begin(), qualifying_.end(),
              [](const Group* a, const Group* b) { return a->terms < b->terms; });
    std::uint64_t signals = 0;
    for (Group* g : qualifying_) {
        // A held-back bucket made no alert, so Kibana keeps no signal history for it: its events
        // stay unspent and a later run may alert on them.
        if (signals >= rule_->max_signals) {
            ++counters_.held_back;
            continue;
        }
        ++signals;
        ++counters_.alerts;
        if (g->hardening_only) ++counters_.alerts_hardening_only;
        alerts.push_back(make_alert(*g, run_ms));
        g->spent_until = g->last_ms;
        g->reset_counts();
    }
    qualifying_.clear();
    drop_groups_before(run_ms + rule_->interval_ms - rule_->from_ms);
}

void ScheduledRule::run_due(std::int64_t before_ms, std::vector<Alert>& alerts) {
    while (next_run_ms_ < before_ms) {
        if (watermark_ms_ == kNever || next_run_ms_ - rule_->from_ms > watermark_ms_) {
            // No run from here to `before_ms` can see a counted event: skip them all.
            next_run_ms_ = std::max(next_run_ms_, run_at_or_after(before_ms, rule_->interval_ms));
            drop_groups_before(next_run_ms_ - rule_->from_ms);
            return;
        }
        run(next_run_ms_, alerts);
        next_run_ms_ += rule_->interval_ms;
    }
}

void ScheduledRule::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    const std::int64_t t = clamp_time(event.time_ms);
    if (next_run_ms_ == kNever) {
        next_run_ms_ = run_at_or_after(t, rule_->interval_ms);
    } else {
        run_due(t, alerts);
    }

    const EventFields fields(event, options_.name_match);
    if (!rule_->query.matches(fields)) return;
    ++counters_.matched;
    if (rule_->excepted(fields)) {
        ++counters_.excepted;
        return;
    }
    // Hardened: one grouping, the session when set (a run would otherwise alert twice on
    // one sweep); streaming keeps the parent grouping besides (docs/detection.md).
    std::size_t which = 0;
    if (!group_by_.primary_key(fields, key_, scratch_, which)) {
        ++counters_.missing_group_field;
        return;
    }
    // No run from the next one on can see it (it came after the runs whose window held it).
    if (t < next_run_ms_ - rule_->from_ms) {
        ++counters_.late;
        return;
    }
    Group& g = find_group(key_);
    if (g.terms.empty()) group_by_.terms(which, fields, g.terms, scratch_);
    if (which == 1 || (options_.name_match != NameMatch::comm &&
                       !rule_->query.matches(EventFields(event, NameMatch::comm)))) {
        g.hardening_only = true;
    }
    if (t <= g.spent_until) {
        ++counters_.spent;
        return;
    }
    if (t != event.time_ms) {
        ProcessEvent clamped = event;  // absurd times only: keep the arithmetic defined
        clamped.time_ms = t;
        add_event(g, clamped, fields);
    } else {
        add_event(g, event, fields);
    }
    watermark_ms_ = std::max(watermark_ms_, t);
}

void ScheduledRule::advance(std::int64_t time_ms, std::vector<Alert>& alerts) {
    if (next_run_ms_ == kNever) return;
    run_due(clamp_time(time_ms), alerts);
}

void ScheduledRule::finish(std::vector<Alert>& alerts) {
    if (next_run_ms_ == kNever || watermark_ms_ == kNever) return;
    // next_run_ms_ is already the first run at or after every event counted. A run whose window
    // holds only spent events cannot alert: stop there.
    const auto unspent = [this] {
        return std::any_of(lru_.begin(), lru_.end(), [](const auto& g) { return g->events > 0; });
    };
    while (unspent() && next_run_ms_ - rule_->from_ms <= watermark_ms_) {
        run(next_run_ms_, alerts);
        next_run_ms_ += rule_->interval_ms;
    }
}

using detail::hex;
using detail::hex_list;
using detail::unhex;
using detail::unhex_list;

nlohmann::json ScheduledRule::save_state() const {
    nlohmann::json groups = nlohmann::json::array();
    // Least recently used first, so restoring in order rebuilds the same LRU order.
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
        const Group& g = **it;
        nlohmann::json terms = nlohmann::json::array();
        for (const auto& [field, value] : g.terms) terms.push_back({field, hex(value)});
        nlohmann::json values = nlohmann::json::array();
        for (const auto& [hash, last_ms] : g.values) values.push_back({hash, last_ms});
        nlohmann::json seconds = nlohmann::json::array();
        for (const auto& s : g.seconds) {
            seconds.push_back({s.second, s.count, s.first_ms, s.first_serial});
        }
        const Evidence& ev = g.latest;
        groups.push_back({{"key", hex(g.key)},
                          {"terms", terms},
                          {"last_ms", g.last_ms},
                          {"last_serial", g.last_serial},
                          {"spent_until", g.spent_until},
                          {"values", values},
                          {"seconds", seconds},
                          {"latest", hex_list({ev.process_name, ev.parent_executable, ev.user_id,
                                               ev.user_name, ev.audit_user_id, ev.audit_user_name,
                                               ev.working_directory, g.host_name})},
                          {"latest_pids", {ev.process_pid, ev.parent_pid}},
                          {"sample_commands", hex_list(g.sample_commands)},
                          {"sample_values", hex_list(g.sample_values)}});
    }
    return {{"engine", "scheduled"},
            {"next_run_ms", next_run_ms_},
            {"watermark_ms", watermark_ms_},
            {"groups", groups}};
}

bool ScheduledRule::restore_state(const nlohmann::json& state) {
    try {
        if (!state.is_object() || state.at("engine") != "scheduled") return false;
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
            g->last_serial = j.at("last_serial").get<std::uint64_t>();
            g->spent_until = j.at("spent_until").get<std::int64_t>();
            for (const auto& v : j.at("values")) {
                g->values.emplace(v.at(0).get<std::uint64_t>(), v.at(1).get<std::int64_t>());
            }
            for (const auto& s : j.at("seconds")) {
                g->seconds.push_back(SecondCount{
                    s.at(0).get<std::int64_t>(), s.at(1).get<std::uint64_t>(),
                    s.at(2).get<std::int64_t>(), s.at(3).get<std::uint64_t>()});
                g->events += g->seconds.back().count;
            }
            const auto latest = unhex_list(j.at("latest"));
            if (latest.size() != 8) return false;
            Evidence& ev = g->latest;
            ev.process_name = latest[0];
            ev.parent_executable = latest[1];
            ev.user_id = latest[2];
            ev.user_name = latest[3];
            ev.audit_user_id = latest[4];
            ev.audit_user_name = latest[5];
            ev.working_directory = latest[6];
            g->host_name = latest[7];
            ev.process_pid = j.at("latest_pids").at(0).get<std::int64_t>();
            ev.parent_pid = j.at("latest_pids").at(1).get<std::int64_t>();
            g->sample_commands = unhex_list(j.at("sample_commands"));
            g->sample_values = unhex_list(j.at("sample_values"));
            const std::string key = g->key;
            if (groups.count(key) != 0) return false;
            lru.push_front(std::move(g));
            groups[key] = lru.begin();
        }
        next_run_ms_ = state.at("next_run_ms").get<std::int64_t>();
        watermark_ms_ = state.at("watermark_ms").get<std::int64_t>();
        lru_ = std::move(lru);
        groups_ = std::move(groups);
        counters_.groups = groups_.size();
        return true;
    } catch (const std::exception&) {
        return false;  // a state from another version, or damaged: start empty
    }
}

}  // namespace scanwatch::rules
