#include "rules/engines/sequence/sequence_engine.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/engine_state.h"
#include "rules/engines/sequence/event_state.h"
#include "rules/rule_check.h"

namespace scanwatch::rules {
namespace {

bool category_matches(std::string_view category, EventKind kind) {
    if (category == "any") return true;
    if (category == "process") return kind == EventKind::exec;
    if (category == "network") return kind != EventKind::exec;
    return false;
}

}  // namespace

SequenceEngine::SequenceEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options,
                               std::size_t max_partials, std::size_t max_bytes)
    : RuleEngine(std::move(rule), options),
      seq_(*rule_->eql_sequence),
      span_ms_(seq_.maxspan_ms > 0 ? seq_.maxspan_ms : rule_->from_ms),
      max_partials_(std::max<std::size_t>(max_partials, 1)),
      max_bytes_(max_bytes),
      runs_(true) {
    for (std::size_t i = 0; i < seq_.stages.size(); ++i) {
        const EqlStage& s = seq_.stages[i];
        if (s.missing) continue;
        positive_.push_back(i);
        const bool known = s.category == "process" || s.category == "network" || s.category == "any";
        runs_ = runs_ && known && query_may_match(s.query);
    }
}

bool SequenceEngine::stage_matches(std::size_t stage, const ProcessEvent& event,
                                   const EventFields& fields) {
    const EqlStage& s = stage < seq_.stages.size() ? seq_.stages[stage] : seq_.until;
    if (!category_matches(s.category, event.kind)) return false;
    bool cut = false;
    const bool matched = s.query.matches(fields, cut);
    if (cut) ++counters_.match_work_cut;
    return matched;
}

// The join key's values, each length-prefixed. A key field without a value joins as null when
// written `?field`; otherwise the event takes no part in the term (false).
bool SequenceEngine::key_of(std::size_t stage, const EventFields& fields, std::string& key) const {
    const EqlStage& s = stage < seq_.stages.size() ? seq_.stages[stage] : seq_.until;
    key.clear();
    std::string scratch;
    for (std::size_t i = 0; i < s.key_ids.size(); ++i) {
        const int id = s.key_ids[i];
        bool has = false;
        fields.any_value(id, [&](std::string_view) { return has = true; });
        if (!has) {
            if (!s.key_optional[i]) return false;
            key += '\0';
            continue;
        }
        const std::string_view v = fields.first_value(id, scratch);
        key += '\1';
        key += fmt::format("{}:", v.size());
        key.append(v.data(), v.size());
    }
    return true;
}

SequenceEngine::KeyState& SequenceEngine::state_of(const std::string& key) {
    auto [it, fresh] = keys_.try_emplace(key);
    if (fresh) {
        const std::size_t n = seq_.sample ? seq_.stages.size() : positive_.size();
        it->second.slots.resize(n);
        it->second.filled.assign(n, 0);
        it->second.missing_arrival.assign(seq_.stages.size(), 0);
        it->second.missing_ms.assign(seq_.stages.size(), INT64_MIN);
    }
    return it->second;
}

SequenceEngine::EventPtr SequenceEngine::hold(const ProcessEvent& event) {
    const std::size_t bytes = detail::event_bytes(event);
    *held_bytes_ += bytes;
    return EventPtr(new ProcessEvent(event), [held = held_bytes_, bytes](const ProcessEvent* e) {
        *held -= bytes;
        delete e;
    });
}

void SequenceEngine::drop_empty(const std::string& key) {
    const auto it = keys_.find(key);
    if (it == keys_.end()) return;
    const KeyState& ks = it->second;
    const bool any_slot = std::any_of(ks.filled.begin(), ks.filled.end(), [](char f) { return f; });
    const bool any_missing = std::any_of(ks.missing_arrival.begin(), ks.missing_arrival.end(),
                                         [](std::uint64_t a) { return a != 0; });
    if (!any_slot && !any_missing) keys_.erase(it);
}

void SequenceEngine::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    if (!runs_) return;
    const EventFields fields(event, options_.name_match);
    if (!admits(fields)) return;
    // An event older than the span behind the latest one joins nothing that can still match
    // (the other engines count such events late the same way).
    if (latest_ms_ != INT64_MIN && event.time_ms < latest_ms_ - span_ms_) {
        ++counters_.late;
        return;
    }
    ++arrival_;
    latest_ms_ = std::max(latest_ms_, event.time_ms);
    close_pending(latest_ms_, alerts);
    current_.reset();
    if (seq_.sample) {
        process_sample(event, fields, alerts);
    } else {
        process_sequence(event, fields, alerts);
    }
    current_.reset();
    if (++since_sweep_ >= 1024) expire();
    if (partials_ > max_partials_ || *held_bytes_ > max_bytes_) evict();
    counters_.groups = partials_;
}

void SequenceEngine::process_sequence(const ProcessEvent& event, const EventFields& fields,
                                      std::vector<Alert>& alerts) {
    const auto shared = [&] {
        if (!current_) current_ = hold(event);
        return current_;
    };
    const std::int64_t t = event.time_ms;
    // From the last term to the first, so that one event moves each partial at most one term.
    for (std::size_t p = positive_.size(); p-- > 0;) {
        const std::size_t stage = positive_[p];
        std::string key;
        if (!stage_matches(stage, event, fields) || !key_of(stage, fields, key)) continue;
        if (p == 0) {
            Partial fresh;
            fresh.events.push_back(shared());
            fresh.start_ms = fresh.last_ms = t;
            fresh.last_arrival = arrival_;
            KeyState& ks = state_of(key);
            for (std::size_t m = 0; m < stage; ++m) {
                fresh.lead_missing_ms = std::max(fresh.lead_missing_ms, ks.missing_ms[m]);
            }
            if (positive_.size() == 1) {
                complete(key, std::move(fresh), alerts);
                drop_empty(key);
                continue;
            }
            if (!ks.filled[0]) ++partials_;
            ks.slots[0] = std::move(fresh);
            ks.filled[0] = 1;
            continue;
        }
        const auto it = keys_.find(key);
        if (it == keys_.end() || !it->second.filled[p - 1]) continue;
        KeyState& ks = it->second;
        if (t < ks.slots[p - 1].last_ms) continue;  // before it in event time: not after it
        Partial taken = std::move(ks.slots[p - 1]);
        ks.slots[p - 1] = Partial{};
        ks.filled[p - 1] = 0;
        --partials_;
        bool rejected = seq_.maxspan_ms > 0 && t - taken.start_ms > seq_.maxspan_ms;
        for (std::size_t m = positive_[p - 1] + 1; m < stage && !rejected; ++m) {
            rejected = ks.missing_arrival[m] > taken.last_arrival;
        }
        if (!rejected) {
            taken.events.push_back(shared());
            taken.last_ms = t;
            taken.last_arrival = arrival_;
            if (p + 1 == positive_.size()) {
                complete(key, std::move(taken), alerts);
            } else {
                if (!ks.filled[p]) ++partials_;
                ks.slots[p] = std::move(taken);
                ks.filled[p] = 1;
            }
        }
        drop_empty(key);
    }
    // Missing events: remembered per key (leading ones even before any partial), and a trailing
    // one cancels the complete sequences waiting for it.
    for (std::size_t m = 0; m < seq_.stages.size(); ++m) {
        std::string key;
        if (!seq_.stages[m].missing || !stage_matches(m, event, fields) || !key_of(m, fields, key)) {
            continue;
        }
        const bool leading = m < positive_.front();
        const bool trailing = m > positive_.back();
        if (trailing) {
            const auto before = pending_.size();
            pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                          [&](const Pending& w) {
                                              return w.key == key && t <= w.deadline_ms &&
                                                     w.seq.last_arrival < arrival_;
                                          }),
                           pending_.end());
            partials_ -= before - pending_.size();
        }
        if (!leading && keys_.find(key) == keys_.end()) continue;
        KeyState& ks = state_of(key);
        ks.missing_arrival[m] = arrival_;
        ks.missing_ms[m] = t;
    }
    std::string until_key;
    if (seq_.has_until && stage_matches(seq_.stages.size(), event, fields) &&
        key_of(seq_.stages.size(), fields, until_key)) {
        const auto it = keys_.find(until_key);
        if (it != keys_.end()) {
            for (std::size_t p = 0; p < it->second.filled.size(); ++p) {
                if (!it->second.filled[p]) continue;
                it->second.filled[p] = 0;
                it->second.slots[p] = Partial{};
                --partials_;
            }
            drop_empty(it->first);
        }
    }
}

void SequenceEngine::process_sample(const ProcessEvent& event, const EventFields& fields,
                                    std::vector<Alert>& alerts) {
    std::vector<std::string> done;
    for (std::size_t i = 0; i < seq_.stages.size(); ++i) {
        std::string key;
        if (!stage_matches(i, event, fields) || !key_of(i, fields, key)) continue;
        if (std::find(done.begin(), done.end(), key) != done.end()) continue;  // one term per key
        KeyState& ks = state_of(key);
        if (ks.filled[i]) continue;
        if (!current_) current_ = hold(event);
        Partial& slot = ks.slots[i];
        slot.events.assign(1, current_);
        slot.start_ms = slot.last_ms = event.time_ms;
        slot.last_arrival = arrival_;
        ks.filled[i] = 1;
        ++partials_;
        done.push_back(key);
        if (std::all_of(ks.filled.begin(), ks.filled.end(), [](char f) { return f; })) {
            Partial sample;
            sample.start_ms = INT64_MAX;
            for (Partial& s : ks.slots) {
                sample.events.push_back(s.events.front());
                sample.start_ms = std::min(sample.start_ms, s.start_ms);
                sample.last_ms = std::max(sample.last_ms, s.last_ms);
            }
            partials_ -= ks.slots.size();
            keys_.erase(key);
            emit(std::move(sample), alerts);
        }
    }
}

void SequenceEngine::complete(const std::string& key, Partial seq, std::vector<Alert>& alerts) {
    // A leading missing event within the span before the last event rejects it.
    if (positive_.front() > 0 && seq.lead_missing_ms != INT64_MIN &&
        seq.lead_missing_ms >= seq.last_ms - span_ms_) {
        return;
    }
    if (positive_.back() + 1 < seq_.stages.size()) {
        Pending w{key, std::move(seq), 0};
        w.deadline_ms = w.seq.start_ms + span_ms_;
        pending_.push_back(std::move(w));
        ++partials_;
        return;
    }
    emit(std::move(seq), alerts);
}

void SequenceEngine::close_pending(std::int64_t time_ms, std::vector<Alert>& alerts) {
    if (pending_.empty()) return;
    std::vector<Pending> keep;
    for (Pending& w : pending_) {
        if (w.deadline_ms < time_ms) {
            --partials_;
            emit(std::move(w.seq), alerts);
        } else {
            keep.push_back(std::move(w));
        }
    }
    pending_ = std::move(keep);
    counters_.groups = partials_;
}

void SequenceEngine::emit(Partial seq, std::vector<Alert>& alerts) {
    if (!signals_.take(*rule_, seq.last_ms, counters_)) return;
    auto group = std::make_shared<AlertGroup>();
    std::string material = rule_->rule_id;
    for (const auto& e : seq.events) {
        material += '\0';
        material += e->event_id();
    }
    const XXH128_hash_t h = XXH3_128bits(material.data(), material.size());
    group->id = fmt::format("{:016x}{:016x}", h.high64, h.low64);
    group->events = std::move(seq.events);
    Alert shell;
    shell.rule = rule_;
    shell.time_ms = seq.last_ms;
    shell.from_ms = seq.start_ms;
    shell.count = group->events.size();
    const ProcessEvent& last = *group->events.back();
    shell.host_name = last.host_name;
    shell.evidence.process_name = last.name;
    shell.evidence.process_pid = last.pid;
    shell.evidence.parent_pid = last.ppid;
    shell.evidence.first_event = EventRef{group->events.front()->event_id(),
                                          group->events.front()->time_ms};
    shell.evidence.last_event = EventRef{last.event_id(), last.time_ms};
    const std::string shell_material = group->id + "\0shell";
    const XXH128_hash_t sh = XXH3_128bits(shell_material.data(), shell_material.size());
    shell.uuid = fmt::format("{:016x}{:016x}", sh.high64, sh.low64);
    shell.group = std::move(group);
    // Kibana writes the building blocks, then the shell that refers to them.
    for (std::size_t i = 0; i < shell.group->events.size(); ++i) {
        alerts.push_back(sequence_building_block(shell, i));
    }
    alerts.push_back(std::move(shell));
}

// Partial sequences whose first event is more than the span behind the latest event can never
// complete; missing events that far back can reject nothing.
void SequenceEngine::expire() {
    since_sweep_ = 0;
    if (latest_ms_ == INT64_MIN) return;
    const std::int64_t horizon = latest_ms_ - span_ms_;
    for (auto it = keys_.begin(); it != keys_.end();) {
        KeyState& ks = it->second;
        bool any = false;
        for (std::size_t p = 0; p < ks.filled.size(); ++p) {
            if (ks.filled[p] && ks.slots[p].start_ms < horizon) {
                ks.filled[p] = 0;
                ks.slots[p] = Partial{};
                --partials_;
            }
            any = any || ks.filled[p];
        }
        for (std::size_t m = 0; m < ks.missing_ms.size(); ++m) {
            if (ks.missing_arrival[m] != 0 && ks.missing_ms[m] < horizon) {
                ks.missing_arrival[m] = 0;
                ks.missing_ms[m] = INT64_MIN;
            }
            any = any || ks.missing_arrival[m] != 0;
        }
        it = any ? std::next(it) : keys_.erase(it);
    }
}

// Over the cap: drop the partial sequences that can least matter, the least advanced and then
// the oldest, down to 7/8 of the cap so that a flood pays for this once per cap/8 events.
void SequenceEngine::evict() {
    expire();
    if (partials_ <= max_partials_ && keys_.size() <= 2 * max_partials_ &&
        *held_bytes_ <= max_bytes_) {
        return;
    }
    struct Victim {
        std::size_t reached;
        std::int64_t start_ms;
        KeyState* ks;
        std::size_t slot;
    };
    std::vector<Victim> all;
    for (auto& [key, ks] : keys_) {
        for (std::size_t p = 0; p < ks.filled.size(); ++p) {
            if (ks.filled[p]) all.push_back({p, ks.slots[p].start_ms, &ks, p});
        }
    }
    std::sort(all.begin(), all.end(), [](const Victim& a, const Victim& b) {
        return std::tie(a.reached, a.start_ms) < std::tie(b.reached, b.start_ms);
    });
    const std::size_t target = max_partials_ - max_partials_ / 8;
    const std::size_t byte_target = max_bytes_ - max_bytes_ / 8;
    for (const Victim& v : all) {
        if (partials_ <= target && *held_bytes_ <= byte_target) break;
        v.ks->filled[v.slot] = 0;
        v.ks->slots[v.slot] = Partial{};
        --partials_;
        ++counters_.groups_evicted;
        const std::uint64_t reached = v.reached + 1;
        counters_.values_evicted += reached;
        counters_.values_evicted_max = std::max(counters_.values_evicted_max, reached);
    }
    // Keys that hold only missing-event history go too, oldest first (counted alike).
    if (keys_.size() > 2 * max_partials_) {
        std::vector<std::pair<std::int64_t, std::string>> history;
        for (const auto& [key, ks] : keys_) {
            if (std::any_of(ks.filled.begin(), ks.filled.end(), [](char f) { return f; })) continue;
            history.emplace_back(*std::max_element(ks.missing_ms.begin(), ks.missing_ms.end()), key);
        }
        std::sort(history.begin(), history.end());
        for (const auto& [ms, key] : history) {
            if (keys_.size() <= max_partials_) break;
            keys_.erase(key);
            ++counters_.groups_evicted;
        }
    }
    for (auto it = keys_.begin(); it != keys_.end();) {
        const KeyState& ks = it->second;
        const bool any = std::any_of(ks.filled.begin(), ks.filled.end(), [](char f) { return f; }) ||
                         std::any_of(ks.missing_arrival.begin(), ks.missing_arrival.end(),
                                     [](std::uint64_t a) { return a != 0; });
        it = any ? std::next(it) : keys_.erase(it);
    }
    // Waiting sequences beyond the cap are the newest; they go last, oldest first.
    while ((partials_ > max_partials_ || *held_bytes_ > max_bytes_) && !pending_.empty()) {
        pending_.erase(pending_.begin());
        --partials_;
        ++counters_.groups_evicted;
    }
}

void SequenceEngine::finish(std::vector<Alert>& alerts) {
    close_pending(INT64_MAX, alerts);
}

void SequenceEngine::advance(std::int64_t time_ms, std::vector<Alert>& alerts) {
    close_pending(time_ms, alerts);
}

nlohmann::json SequenceEngine::save_state() const {
    nlohmann::json state{{"engine", "sequence"}};
    signals_.save(state);
    state["latest_ms"] = latest_ms_;
    state["arrival"] = arrival_;
    // Each event once (the partial sequences of a `runs` term share theirs), referred to by index.
    nlohmann::json table = nlohmann::json::array();
    std::unordered_map<const ProcessEvent*, std::size_t> index;
    const auto save_partial = [&](const Partial& p) {
        nlohmann::json events = nlohmann::json::array();
        for (const auto& e : p.events) {
            const auto [it, fresh] = index.try_emplace(e.get(), table.size());
            if (fresh) table.push_back(detail::event_to_state(*e));
            events.push_back(it->second);
        }
        return nlohmann::json{{"events", std::move(events)},
                              {"start_ms", p.start_ms},
                              {"last_ms", p.last_ms},
                              {"last_arrival", p.last_arrival},
                              {"lead_missing_ms", p.lead_missing_ms}};
    };
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& [key, ks] : keys_) {
        nlohmann::json slots = nlohmann::json::array();
        for (std::size_t p = 0; p < ks.filled.size(); ++p) {
            slots.push_back(ks.filled[p] ? save_partial(ks.slots[p]) : nlohmann::json());
        }
        keys.push_back({{"key", detail::hex(key)},
                        {"slots", std::move(slots)},
                        {"missing_arrival", ks.missing_arrival},
                        {"missing_ms", ks.missing_ms}});
    }
    state["keys"] = std::move(keys);
    nlohmann::json pending = nlohmann::json::array();
    for (const Pending& w : pending_) {
        pending.push_back({{"key", detail::hex(w.key)},
                           {"seq", save_partial(w.seq)},
                           {"deadline_ms", w.deadline_ms}});
    }
    state["pending"] = std::move(pending);
    state["events"] = std::move(table);
    return state;
}

bool SequenceEngine::restore_state(const nlohmann::json& state) {
    return detail::restore_engine(state, "sequence", [&] {
        const std::size_t width = seq_.sample ? seq_.stages.size() : positive_.size();
        std::vector<EventPtr> table;
        for (const auto& e : state.at("events")) table.push_back(hold(detail::event_from_state(e)));
        const auto load_partial = [&](const nlohmann::json& j) {
            Partial p;
            for (const auto& i : j.at("events")) p.events.push_back(table.at(detail::get_uint64(i)));
            if (p.events.empty() || p.events.size() > seq_.stages.size()) {
                throw std::invalid_argument("partial sequence size");
            }
            p.start_ms = detail::get_int64(j.at("start_ms"));
            p.last_ms = detail::get_int64(j.at("last_ms"));
            p.last_arrival = detail::get_uint64(j.at("last_arrival"));
            p.lead_missing_ms = detail::get_int64(j.at("lead_missing_ms"));
            return p;
        };
        std::unordered_map<std::string, KeyState> keys;
        std::vector<Pending> pending;
        std::size_t partials = 0;
        for (const auto& k : state.at("keys")) {
            KeyState ks;
            const auto& slots = k.at("slots");
            if (slots.size() != width) return false;
            ks.slots.resize(width);
            ks.filled.assign(width, 0);
            for (std::size_t p = 0; p < width; ++p) {
                if (slots[p].is_null()) continue;
                ks.slots[p] = load_partial(slots[p]);
                ks.filled[p] = 1;
                ++partials;
            }
            for (const auto& a : k.at("missing_arrival")) ks.missing_arrival.push_back(detail::get_uint64(a));
            for (const auto& m : k.at("missing_ms")) ks.missing_ms.push_back(detail::get_int64(m));
            if (ks.missing_arrival.size() != seq_.stages.size() ||
                ks.missing_ms.size() != seq_.stages.size()) {
                return false;
            }
            keys.emplace(detail::unhex(k.at("key").get<std::string>()), std::move(ks));
        }
        for (const auto& w : state.at("pending")) {
            pending.push_back(Pending{detail::unhex(w.at("key").get<std::string>()),
                                      load_partial(w.at("seq")),
                                      detail::get_int64(w.at("deadline_ms"))});
            ++partials;
        }
        if (partials > max_partials_) return false;
        signals_ = SignalBudget::restored(state);
        latest_ms_ = detail::get_int64(state.at("latest_ms"));
        arrival_ = detail::get_uint64(state.at("arrival"));
        keys_ = std::move(keys);
        pending_ = std::move(pending);
        partials_ = partials;
        counters_.groups = partials_;
        return true;
    });
}

}  // namespace scanwatch::rules
