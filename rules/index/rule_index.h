#pragma once
// The rule index (docs/operations.md, "Rule index"): an event is tried only against the rules
// that could match it. Each engine says which events its process() needs (RuleEngine::
// interest()); for an engine that acts only on events its query matches, the index derives from
// the query's tree the literal values one field must take (`process.name:(nmap or masscan)`,
// EQL `process.name : "nmap"`, `in~`), and files the rule under those values of that field. An
// event then looks up its own values of each indexed field, read through the same EventFields
// the matcher reads (so process.name's wider values in the hardened profile, exe and argv[0]
// basenames, applets, hard links, are looked up too), and gets those rules plus the small list
// of rules that declared nothing a key could be made of. Keys are compared ASCII case-folded: a
// rule matching exact bytes only gets a few events more, which its query then rejects.
//
// Exactly equivalent to running every rule on every event: a rule is left out only when its
// query cannot match (so its engine would have done nothing), and in load order, so alerts come
// out in the same order (tests/rules/index/rule_index_test.cpp, tests/agent/rule_index_equivalence_test.cpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "rules/engines/engine.h"
#include "rules/engines/index_keys.h"
#include "rules/event_fields.h"
#include "rules/query/ast.h"

namespace scanwatch::rules {

/// Where one rule lands in the index.
struct IndexBucket {
    enum class Kind : std::uint8_t {
        always,  ///< tried on every event (no key, or the engine needs every event)
        keyed,   ///< tried on events with at least one of `keys`
        never,   ///< tried on none (no event can matter)
    };
    Kind kind = Kind::always;
    std::vector<IndexKey> keys;  ///< sorted, without duplicates
    bool clocked = false;        ///< keyed: events without a key move its clock (RuleEngine::clock)
};

/// The bucket of an engine that declared `interest`.
IndexBucket bucket_of(const EngineInterest& interest);

/// One line for `rules check`: where the rule lands in the index.
std::string describe_bucket(const IndexBucket& bucket);

/// The index over one kind of event's rules. Immutable after construction, except the scratch
/// buffers candidates() reuses.
class RuleIndex {
public:
    RuleIndex() = default;
    /// `buckets[i]` is rule i's; rules with `included[i]` false get no event (another kind's).
    RuleIndex(const std::vector<IndexBucket>& buckets, const std::vector<char>& included,
              NameMatch name_match);

    /// Writes into `out` the rules (increasing positions) that could act on `event`.
    /// Allocates nothing once its buffers have grown.
    void candidates(const ProcessEvent& event, std::vector<std::uint32_t>& out);

    /// The keyed rules whose clock moves with every event (increasing positions): those of
    /// them candidates() leaves out get RuleEngine::clock() instead of process().
    const std::vector<std::uint32_t>& clocked() const { return clocked_; }

    std::size_t always_run() const { return always_.size(); }
    std::size_t keyed() const { return keyed_; }

private:
    using RulesByValue = std::unordered_map<std::string, std::vector<std::uint32_t>>;
    struct FieldMap {
        int field_id = -1;
        RulesByValue rules_by_value;
        RulesByValue rules_by_prefix;
        RulesByValue rules_by_suffix;
        std::vector<std::size_t> prefix_sizes;  ///< the sizes of the keys in rules_by_prefix
        std::vector<std::size_t> suffix_sizes;
    };
    NameMatch name_match_ = NameMatch::any;
    std::vector<std::uint32_t> always_;
    std::vector<std::uint32_t> clocked_;
    std::vector<FieldMap> fields_;
    std::size_t keyed_ = 0;
    std::string folded_;  // scratch: one value, lower-cased
    std::string part_;    // scratch: its start or end
};

}  // namespace scanwatch::rules
