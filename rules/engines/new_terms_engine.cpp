#include "rules/engines/new_terms_engine.h"

#include <xxhash.h>

#include "rules/engines/engine_state.h"
#include "rules/rule_check.h"
#include "rules/event_fields.h"
#include "rules/engines/query_engine.h"

namespace scanwatch::rules {

NewTermsEngine::NewTermsEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : RuleEngine(std::move(rule), options), runs_(query_may_match(rule_->query)) {
    values_.resize(rule_->new_terms.field_ids.size());
}

bool NewTermsEngine::see(std::uint64_t hash, std::int64_t time_ms) {
    const auto found = seen_.find(hash);
    if (found != seen_.end()) {
        const auto node = found->second;
        // Kibana: new when no event in [now - history_window_start, from) had the terms; on a
        // stream, when none did in the history window before this one.
        const bool fresh = time_ms - node->last_ms > rule_->new_terms.history_window_ms;
        if (time_ms > node->last_ms) node->last_ms = time_ms;
        by_use_.splice(by_use_.end(), by_use_, node);
        return fresh;
    }
    if (options_.max_groups > 0 && seen_.size() >= options_.max_groups) {
        // The least recently seen combination goes; if it comes back it is new again.
        seen_.erase(by_use_.front().hash);
        by_use_.pop_front();
        ++counters_.groups_evicted;
    }
    seen_.emplace(hash, by_use_.insert(by_use_.end(), Seen{hash, time_ms}));
    counters_.groups = seen_.size();
    return true;
}

void NewTermsEngine::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    if (!runs_) return;  // no exec event can match (a static check)
    const EventFields fields(event, options_.name_match);
    if (!admits(fields)) return;
    key_.clear();
    const auto& ids = rule_->new_terms.field_ids;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        std::string& value = values_[i];
        const std::string_view v = fields.first_value(ids[i], value);
        // Kibana counts only events that have every new_terms field.
        if (v.empty()) {
            ++counters_.missing_group_field;
            return;
        }
        if (v.data() != value.data()) value.assign(v.data(), v.size());
        key_ += value;
        key_ += '\0';
    }
    const std::uint64_t hash = XXH3_64bits(key_.data(), key_.size());
    if (!see(hash, event.time_ms)) return;
    if (!signals_.take(*rule_, event.time_ms, counters_)) return;
    Alert a = event_alert(rule_, event);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        a.terms.emplace_back(rule_->new_terms.fields[i], values_[i]);
    }
    a.uuid = alert_uuid(a);
    alerts.push_back(std::move(a));
}

nlohmann::json NewTermsEngine::save_state() const {
    nlohmann::json terms = nlohmann::json::array();
    for (const Seen& s : by_use_) terms.push_back({s.hash, s.last_ms});
    nlohmann::json state{{"engine", "new_terms"}, {"terms", std::move(terms)}};
    signals_.save(state);
    return state;
}

bool NewTermsEngine::restore_state(const nlohmann::json& state) {
    return detail::restore_engine(state, "new_terms", [&] {
        const SignalBudget signals = SignalBudget::restored(state);
        const nlohmann::json& terms = state.at("terms");
        if (!terms.is_array()) return false;
        std::list<Seen> by_use;
        std::unordered_map<std::uint64_t, std::list<Seen>::iterator> seen;
        // A state saved under a larger bound keeps its most recently seen combinations.
        std::size_t skip = 0;
        if (options_.max_groups > 0 && terms.size() > options_.max_groups) {
            skip = terms.size() - options_.max_groups;
        }
        for (std::size_t i = skip; i < terms.size(); ++i) {
            const nlohmann::json& t = terms[i];
            if (!t.is_array() || t.size() != 2) return false;
            const std::uint64_t hash = detail::get_uint64(t.at(0));
            const std::int64_t last_ms = detail::get_int64(t.at(1));
            if (seen.count(hash) != 0) return false;  // a combination twice: damage
            seen.emplace(hash, by_use.insert(by_use.end(), Seen{hash, last_ms}));
        }
        by_use_ = std::move(by_use);
        seen_ = std::move(seen);
        signals_ = signals;
        counters_.groups = seen_.size();
        return true;
    });
}

}  // namespace scanwatch::rules
