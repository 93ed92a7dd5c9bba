// SequenceEngine's tail state (rules/engines/sequence/sequence_engine.h): the partial
// sequences per join key, the missing-event history, the sequences waiting for a trailing
// missing event's window, and the held events, each saved once and referred to by index.

#include <cstdint>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "rules/engines/engine_state.h"
#include "rules/engines/sequence/event_state.h"
#include "rules/engines/sequence/sequence_engine.h"

namespace scanwatch::rules {
namespace {

// An event time as events give it (>= 0), or with `unset` also INT64_MIN; throws otherwise, so
// that time arithmetic on a damaged state cannot overflow.
std::int64_t event_time(const nlohmann::json& j, bool unset = false) {
    const std::int64_t t = detail::get_int64(j);
    if (t < 0 && !(unset && t == INT64_MIN)) throw std::invalid_argument("time out of range");
    return t;
}

}  // namespace

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
            p.start_ms = event_time(j.at("start_ms"));
            p.last_ms = event_time(j.at("last_ms"));
            p.last_arrival = detail::get_uint64(j.at("last_arrival"));
            p.lead_missing_ms = event_time(j.at("lead_missing_ms"), true);
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
            for (const auto& m : k.at("missing_ms")) ks.missing_ms.push_back(event_time(m, true));
            if (ks.missing_arrival.size() != seq_.stages.size() ||
                ks.missing_ms.size() != seq_.stages.size()) {
                return false;
            }
            keys.emplace(detail::unhex(k.at("key").get<std::string>()), std::move(ks));
        }
        for (const auto& w : state.at("pending")) {
            pending.push_back(Pending{detail::unhex(w.at("key").get<std::string>()),
                                      load_partial(w.at("seq")),
                                      event_time(w.at("deadline_ms"))});
            ++partials;
        }
        if (partials > max_partials_) return false;
        signals_ = SignalBudget::restored(state);
        latest_ms_ = event_time(state.at("latest_ms"), true);
        arrival_ = detail::get_uint64(state.at("arrival"));
        keys_ = std::move(keys);
        pending_ = std::move(pending);
        partials_ = partials;
        counters_.groups = partials_;
        return true;
    });
}

}  // namespace scanwatch::rules
