#pragma once
// How a threshold rule's events are grouped under a profile (docs/detection.md, "Profiles and
// grouping"). The rule's own fields always make one grouping. In the hardened profile a rule
// that groups by process.parent.entity_id gets a second one with the exec's lineage in its
// place, so a wrapper that forks between the scanning loop and each tool exec (timeout, sh -c,
// sudo, setsid -f, strace -f, flock, xargs, a backgrounded function) cannot split a sweep into
// groups of one. The lineage is the audit session (auditd.session) when the exec has one; without
// a login session it is the parent's parent (process.parent.parent.entity_id), or, when the
// parent is a fork the stream cannot trace, the user (user.id).
// A rule grouping by process.entity_id (the network scan rules) gets auditd.session in its
// place the same way: a curl per target or a bash subshell per connection is one session.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rules/event_fields.h"
#include "rules/rule.h"

namespace scanwatch::rules {

/// The groupings of one rule. Immutable; cheap to query per event.
class GroupBy {
public:
    /// `session_grouping`: the hardened profile's second grouping (used only when the rule
    /// groups by process.parent.entity_id).
    GroupBy(const RuleDefinition& rule, bool session_grouping);

    /// What grouping 1 puts in place of process.parent.entity_id for one event.
    enum class Lineage { none, session, grandparent, user };
    /// The lineage of the event behind `fields` (none: the event has no grouping 1).
    Lineage lineage(const EventFields& fields, std::string& scratch) const;
    /// The field a lineage groups on ("auditd.session", ...; empty for none).
    static std::string_view lineage_field(Lineage lineage);

    /// The rule's fields (0), and the lineage in place of parent (1) when it applies.
    std::size_t groupings() const { return session_slot_ < 0 ? 1 : 2; }
    /// Writes the key of grouping `which` for the event behind `fields` into `key`; false when
    /// the event has no such group (a field without value; for 1, Lineage::none).
    /// Key values over limits::kFieldBytes are replaced by their 128-bit hash.
    bool key(std::size_t which, const EventFields& fields, std::string& key,
             std::string& scratch) const;
    /// The terms (field name, value) of grouping `which` for the event: what an alert shows.
    /// Values are capped at limits::kFieldBytes; returns how many were cut.
    std::uint64_t terms(std::size_t which, const EventFields& fields,
                        std::vector<std::pair<std::string, std::string>>& out,
                        std::string& scratch) const;
    /// Lineage grouping only (the lineage when the event has one, else the rule's fields): the
    /// scheduled evaluation's hardened grouping, one group per event.
    bool primary_key(const EventFields& fields, std::string& key, std::string& scratch,
                     std::size_t& which) const;

    /// ses= value that means "no login session" (4294967295, i.e. (unsigned)-1).
    static bool session_set(std::string_view ses) { return !ses.empty() && ses != "4294967295"; }

private:
    int lineage_id(Lineage lineage) const;

    const RuleDefinition& rule_;
    int session_slot_ = -1;  // index in group_by of process.parent.entity_id (else
                             // process.entity_id) when hardened
    int session_id_ = -1;    // field ids of auditd.session, process.parent.parent.entity_id,
    int grandparent_id_ = -1;  // user.id
    int user_id_ = -1;
};

}  // namespace scanwatch::rules
