#pragma once
// Kibana's max_signals as the engines apply it on event time: at most `max_signals` alerts per
// rule interval (docs/kibana-parity.md); the rest are held back and counted. Every engine that
// alerts on its own (streaming threshold, query and EQL, new_terms) holds one and saves it in its
// state as "signal_bucket" and "signals_in_bucket".

#include <cstdint>

#include <nlohmann/json.hpp>

#include "rules/engines/engine.h"
#include "rules/rule.h"

namespace scanwatch::rules {

class SignalBudget {
public:
    /// One alert of `rule` at `time_ms`: moves to that interval when it is newer than the current
    /// one; true (counted in `alerts`) while the interval has room, else false (`held_back`).
    bool take(const RuleDefinition& rule, std::int64_t time_ms, RuleCounters& counters) {
        const std::int64_t bucket = time_ms / rule.interval_ms;
        if (bucket > bucket_) {
            bucket_ = bucket;
            in_bucket_ = 0;
        }
        if (in_bucket_ >= rule.max_signals) {
            ++counters.held_back;
            return false;
        }
        ++in_bucket_;
        ++counters.alerts;
        return true;
    }

    /// Adds this budget's two fields to an engine's saved state.
    void save(nlohmann::json& state) const {
        state["signal_bucket"] = bucket_;
        state["signals_in_bucket"] = in_bucket_;
    }

    /// The budget save() wrote into `state`; throws std::invalid_argument or nlohmann's errors on
    /// a missing or damaged field (the engine's restore_state() catches them and starts empty).
    static SignalBudget restored(const nlohmann::json& state);

private:
    std::int64_t bucket_ = -1;     // the interval (time_ms / interval_ms) counted below
    std::uint64_t in_bucket_ = 0;  // alerts let out in that interval
};

}  // namespace scanwatch::rules
