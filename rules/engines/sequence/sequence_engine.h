#pragma once
// EQL sequences and samples as a stream (docs/rules.md, "EQL sequences"), evaluated as
// Elasticsearch does:
// - a sequence's events join when their join keys (the sequence's `by` fields, then the term's
//   own) are equal; events come in order of event time, ties in order of arrival;
// - per join key and term, only the newest partial sequence is kept: Elasticsearch advances
//   the newest one before an event and drops the older ones, which could never do better;
// - maxspan bounds first to last event (inclusive); without one, the rule's look-back (`from`);
// - `until` drops the key's partial sequences; a missing event `![..]` in the middle rejects a
//   sequence whose neighbours it falls between, at the start one within maxspan before the
//   last event, at the end one within maxspan after the first (the alert waits for that);
// - a sample takes, per join key, the first event of each term in any order.
// State is bounded (kSequenceMaxPartials per rule); over it the least advanced, oldest
// partial sequences are evicted and counted (groups_evicted). Reads time only from events.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/engines/engine.h"
#include "rules/engines/signal_budget.h"

namespace scanwatch::rules {

/// The most partial sequences (sample: join keys) one rule holds; docs/operations.md, "Memory".
inline constexpr std::size_t kSequenceMaxPartials = 1000;
/// The most bytes of events the partial sequences of one rule hold (each event once, however
/// many partial sequences share it).
inline constexpr std::size_t kSequenceMaxBytes = 8u << 20;

class SequenceEngine final : public RuleEngine {
public:
    /// `rule` must have an eql_sequence. `max_partials` is the state cap.
    SequenceEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options,
                   std::size_t max_partials = kSequenceMaxPartials,
                   std::size_t max_bytes = kSequenceMaxBytes);

    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override;
    /// An event no term and no `until` matches changes nothing (the rule's query is their OR).
    EngineInterest interest() const override { return admitted_interest(runs_); }
    /// End of input: sequences that waited for a trailing missing event's window alert now.
    void finish(std::vector<Alert>& alerts) override;
    /// Event time reached `time_ms`: waiting sequences whose window closed alert.
    void advance(std::int64_t time_ms, std::vector<Alert>& alerts) override;
    nlohmann::json save_state() const override;
    bool restore_state(const nlohmann::json& state) override;

    using EventPtr = std::shared_ptr<const ProcessEvent>;
    /// A partial sequence: the events of the positive terms matched so far.
    struct Partial {
        std::vector<EventPtr> events;
        std::int64_t start_ms = 0;
        std::int64_t last_ms = 0;
        std::uint64_t last_arrival = 0;  ///< arrival number of its last event
        /// Time of the latest event of a leading missing term before the first event.
        std::int64_t lead_missing_ms = INT64_MIN;
    };

private:
    struct KeyState {
        /// slots[p]: the newest partial that matched positive terms 0..p (sample: term p's event).
        std::vector<Partial> slots;
        std::vector<char> filled;
        /// Per term (expanded): arrival number and time of its latest missing event.
        std::vector<std::uint64_t> missing_arrival;
        std::vector<std::int64_t> missing_ms;
    };
    struct Pending {  // complete, waiting for a trailing missing term's window to close
        std::string key;
        Partial seq;
        std::int64_t deadline_ms = 0;
    };

    bool stage_matches(std::size_t stage, const ProcessEvent& event, const EventFields& fields);
    bool key_of(std::size_t stage, const EventFields& fields, std::string& key) const;
    KeyState& state_of(const std::string& key);
    void process_sequence(const ProcessEvent& event, const EventFields& fields,
                          std::vector<Alert>& alerts);
    void process_sample(const ProcessEvent& event, const EventFields& fields,
                        std::vector<Alert>& alerts);
    void complete(const std::string& key, Partial seq, std::vector<Alert>& alerts);
    void emit(Partial seq, std::vector<Alert>& alerts);
    void close_pending(std::int64_t time_ms, std::vector<Alert>& alerts);
    void expire();
    void evict();
    void drop_empty(const std::string& key);
    EventPtr hold(const ProcessEvent& event);

    const EqlSequence& seq_;
    std::vector<std::size_t> positive_;  // indices of the terms that are not missing events
    std::int64_t span_ms_;               // maxspan, or the rule's look-back
    std::size_t max_partials_;
    std::size_t max_bytes_;
    /// Bytes of the events held (engine and alerts not yet written): each held event subtracts
    /// its own when its last reference goes.
    std::shared_ptr<std::size_t> held_bytes_ = std::make_shared<std::size_t>(0);
    bool runs_;  // false when a positive term can never match a scanwatch event
    std::unordered_map<std::string, KeyState> keys_;
    std::vector<Pending> pending_;
    std::size_t partials_ = 0;
    std::int64_t latest_ms_ = INT64_MIN;
    std::uint64_t arrival_ = 0;
    std::uint64_t since_sweep_ = 0;
    EventPtr current_;  // the event being processed, shared once a term takes it
    SignalBudget signals_;
};

}  // namespace scanwatch::rules
