#include "rules/engines/signal_budget.h"

#include "rules/engines/engine_state.h"

namespace scanwatch::rules {

SignalBudget SignalBudget::restored(const nlohmann::json& state) {
    SignalBudget b;
    b.bucket_ = detail::get_int64(state.at("signal_bucket"));
    b.in_bucket_ = detail::get_uint64(state.at("signals_in_bucket"));
    return b;
}

}  // namespace scanwatch::rules
