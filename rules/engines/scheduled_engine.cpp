#include "rules/engines/scheduled_engine.h"

#include <algorithm>
#include <deque>
#include <limits>

#include <xxhash.h>

#include "rules/engines/engine_state.h"
#include "rules/engines/second_counts.h"

namespace scanwatch::rules {
namespace {

using detail::kNever;
// Event times are clamped to this range for schedule arithmetic, so no input can overflow it.
constexpr std::int64_t kTimeLimit = std::int64_t{1} << 60;

std::int64_t clamp_time(std::int64_t t) {
    return std::clamp(t, -kTimeLimit, kTimeLimit);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Runs are aligned to the epoch: the first run at or after `t`.
std::int64_t run_at_or_after(std::int64_t t, std::int64_t interval_ms) {
    return -floor_div(-t, interval_ms) * interval_ms;
}

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
struct ScheduledEngine::Group : GroupBase {
    std::uint64_t last_serial = 0;                           // of the event at last_ms
    SecondCounts<std::uint64_t> seconds;  // the first event's serial of each second; events is their sum
    std::unordered_map<std::uint64_t, std::int64_t> values;  // value hash -> last seen
    Evidence latest;  // who and where of the latest event; refs and samples filled at alert time
    std::string host_name;
    bool hardening_only = false;  // grouped by session, or counted an exec only `any` names

    void reset_counts() {
        hardening_only = false;
        seconds.clear();
        events = 0;
        values.clear();
        sample_commands.clear();
        sample_values.clear();
    }

    void expire(std::int64_t cutoff_ms) {
        events -= seconds.expire(cutoff_ms);
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

ScheduledEngine::ScheduledEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : RuleEngine(std::move(rule), options),
      group_by_(*rule_, options_.session_grouping),
      value_cap_(value_cap_for(*rule_)),
      next_run_ms_(kNever),
      watermark_ms_(kNever),
      groups_(std::make_unique<GroupTable<Group>>(options_.max_groups, counters_)) {}

ScheduledEngine::~ScheduledEngine() = default;

// How near a group is to its threshold, for the group table's eviction order: distinct values
// (a one-off exec holds a handful, a sweep's group grows by one per target), or events when the
// rule counts no values.
std::uint32_t ScheduledEngine::nearest_permille() const {
    return permille_of(groups_->heaviest(),
                       rule_->cardinality ? rule_->cardinality->value : rule_->threshold_value);
}

std::uint64_t ScheduledEngine::weight(const Group& g) const {
    return group_weight(*rule_, g);
}

ScheduledEngine::Group& ScheduledEngine::find_group(std::size_t which, const EventFields& fields) {
    if (Group* found = groups_->find(key_)) return *found;
    Group& g = groups_->add(key_);
    counters_.truncated += group_by_.terms(which, fields, g.terms, scratch_);
    return g;
}

void ScheduledEngine::drop_groups_before(std::int64_t time_ms) {
    groups_->drop_if([time_ms](const Group& g) { return g.last_ms < time_ms; });
}

void ScheduledEngine::add_event(Group& g, const ProcessEvent& event, const EventFields& fields) {
    const std::int64_t t = event.time_ms;
    g.seconds.add(t, [&event] { return event.serial; });
    ++g.events;

    counters_.truncated += add_sample_command(g.sample_commands, options_.sample_commands, event);
    if (rule_->cardinality) {
        fields.any_value(rule_->cardinality->field_id, [&](std::string_view v) {
            const std::uint64_t h = XXH3_64bits(v.data(), v.size());
            auto [pos, is_new] = g.values.try_emplace(h, t);
            if (!is_new) {
                pos->second = std::max(pos->second, t);
            } else {
                counters_.truncated += add_sample_value(g.sample_values, options_.sample_values, v);
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
        fill_evidence(ev, event);
        g.host_name = event.host_name;
        counters_.truncated += cap_evidence(ev, g.host_name);  // kept until an alert: cap now
    }
}

Alert ScheduledEngine::make_alert(Group& g, std::int64_t run_ms) {
    Alert a;
    a.rule = rule_;
    a.time_ms = run_ms;
    a.terms = g.terms;
    a.count = g.events;
    a.cardinality = g.values.size();
    const auto& first = g.seconds.front();
    a.from_ms = first.first_ms;
    a.host_name = g.host_name;
    a.evidence = g.latest;
    a.evidence.first_event = event_ref(first.first_ms, first.first);
    a.evidence.last_event = event_ref(g.last_ms, g.last_serial);
    a.evidence.sample_command_lines = std::move(g.sample_commands);
    a.evidence.sample_values = std::move(g.sample_values);
    a.uuid = alert_uuid(a);
    return a;
}

void ScheduledEngine::run(std::int64_t run_ms, std::vector<Alert>& alerts) {
    ++runs_;
    const std::int64_t window_start = run_ms - rule_->from_ms;
    qualifying_.clear();
    for (Group& g : groups_->groups()) {
        g.expire(window_start);
        groups_->reweigh(g, weight(g));
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
        groups_->reweigh(*g, weight(*g));
    }
    qualifying_.clear();
    drop_groups_before(run_ms + rule_->interval_ms - rule_->from_ms);
}

void ScheduledEngine::run_due(std::int64_t before_ms, std::vector<Alert>& alerts) {
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

void ScheduledEngine::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    const std::int64_t t = clamp_time(event.time_ms);
    if (next_run_ms_ == kNever) {
        next_run_ms_ = run_at_or_after(t, rule_->interval_ms);
    } else {
        run_due(t, alerts);
    }

    const EventFields fields(event, options_.name_match);
    if (!admits(fields)) return;
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
    Group& g = find_group(which, fields);
    if (which == 1 || (options_.name_match != NameMatch::comm &&
                       !rule_->query.matches(EventFields(event, NameMatch::comm)))) {
        g.hardening_only = true;
    }
    if (t <= g.spent_until) {
        ++counters_.spent;
        groups_->rank(g, weight(g));
        return;
    }
    if (t != event.time_ms) {
        ProcessEvent clamped = event;  // absurd times only: keep the arithmetic defined
        clamped.time_ms = t;
        add_event(g, clamped, fields);
    } else {
        add_event(g, event, fields);
    }
    groups_->rank(g, weight(g));
    watermark_ms_ = std::max(watermark_ms_, t);
}

void ScheduledEngine::advance(std::int64_t time_ms, std::vector<Alert>& alerts) {
    if (next_run_ms_ == kNever) return;
    run_due(clamp_time(time_ms), alerts);
}

void ScheduledEngine::finish(std::vector<Alert>& alerts) {
    if (next_run_ms_ == kNever || watermark_ms_ == kNever) return;
    // next_run_ms_ is already the first run at or after every event counted. A run whose window
    // holds only spent events cannot alert: stop there.
    const auto unspent = [this] {
        const auto& groups = groups_->groups();
        return std::any_of(groups.begin(), groups.end(), [](const Group& g) { return g.events > 0; });
    };
    while (unspent() && next_run_ms_ - rule_->from_ms <= watermark_ms_) {
        run(next_run_ms_, alerts);
        next_run_ms_ += rule_->interval_ms;
    }
}

using detail::get_int64;
using detail::get_uint64;
using detail::hex_list;
using detail::unhex_list;

nlohmann::json ScheduledEngine::save_state() const {
    nlohmann::json groups = groups_->save([](const Group& g, nlohmann::json& j) {
        nlohmann::json values = nlohmann::json::array();
        for (const auto& [hash, last_ms] : g.values) values.push_back({hash, last_ms});
        nlohmann::json seconds = nlohmann::json::array();
        for (const auto& s : g.seconds) {
            seconds.push_back({s.second, s.count, s.first_ms, s.first});
        }
        const Evidence& ev = g.latest;
        j["last_serial"] = g.last_serial;
        j["values"] = std::move(values);
        j["seconds"] = std::move(seconds);
        j["latest"] = hex_list({ev.process_name, ev.parent_executable, ev.user_id, ev.user_name,
                                ev.audit_user_id, ev.audit_user_name, ev.working_directory,
                                g.host_name});
        j["latest_pids"] = {ev.process_pid, ev.parent_pid};
        if (g.hardening_only) j["hardening_only"] = true;  // absent in older states: false
    });
    return {{"engine", "scheduled"},
            {"next_run_ms", next_run_ms_},
            {"watermark_ms", watermark_ms_},
            {"groups", std::move(groups)}};
}

bool ScheduledEngine::restore_state(const nlohmann::json& state) {
    const auto restore_group = [&](const nlohmann::json& j, Group& g, std::uint64_t& w) {
        g.last_serial = get_uint64(j.at("last_serial"));
        const auto& values = j.at("values");
        // More than add_event() keeps before compacting is damage, not a state it wrote.
        if (!values.is_array() || values.size() > value_cap_ + value_cap_ / 4) return false;
        for (const auto& v : values) {
            if (!g.values.emplace(get_uint64(v.at(0)), get_int64(v.at(1))).second) return false;
        }
        for (const auto& s : j.at("seconds")) {
            const std::uint64_t count = get_uint64(s.at(1));
            if (!g.seconds.restore({get_int64(s.at(0)), count, get_int64(s.at(2)),
                                    get_uint64(s.at(3))})) {
                return false;
            }
            g.events += count;
        }
        auto latest = unhex_list(j.at("latest"));
        if (latest.size() != 8) return false;
        Evidence& ev = g.latest;
        ev.process_name = std::move(latest[0]);
        ev.parent_executable = std::move(latest[1]);
        ev.user_id = std::move(latest[2]);
        ev.user_name = std::move(latest[3]);
        ev.audit_user_id = std::move(latest[4]);
        ev.audit_user_name = std::move(latest[5]);
        ev.working_directory = std::move(latest[6]);
        g.host_name = std::move(latest[7]);
        ev.process_pid = get_int64(j.at("latest_pids").at(0));
        ev.parent_pid = get_int64(j.at("latest_pids").at(1));
        cap_evidence(ev, g.host_name);
        if (const auto it = j.find("hardening_only"); it != j.end()) {
            if (!it->is_boolean()) return false;
            g.hardening_only = it->get<bool>();
        }
        w = weight(g);
        return true;
    };
    return detail::restore_engine(state, "scheduled", [&] {
        const std::int64_t next_run = get_int64(state.at("next_run_ms"));
        const std::int64_t watermark = get_int64(state.at("watermark_ms"));
        if (!groups_->restore(state.at("groups"), options_, restore_group)) return false;
        next_run_ms_ = next_run;
        watermark_ms_ = watermark;
        return true;
    });
}

}  // namespace scanwatch::rules
