#include "rules/engines/group_by.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/group_table.h"

namespace scanwatch::rules {

GroupBy::GroupBy(const RuleDefinition& rule, bool session_grouping)
    : rule_(rule), session_id_(FieldCatalog::known_id("auditd.session")) {
    if (!session_grouping) return;
    for (std::size_t i = 0; i < rule.group_by.size(); ++i) {
        // A network rule groups by the process itself: a curl per target or a bash subshell
        // per connection is a process per event, one login session.
        if (rule.group_by[i] == "process.parent.entity_id" ||
            (session_slot_ < 0 && rule.group_by[i] == "process.entity_id")) {
            session_slot_ = static_cast<int>(i);
        }
    }
}

bool GroupBy::key(std::size_t which, const EventFields& fields, std::string& key,
                  std::string& scratch) const {
    key.clear();
    // A byte no host id or entity id starts with keeps the two groupings' keys apart.
    if (which == 1) key += '\x01';
    for (std::size_t i = 0; i < rule_.group_by_ids.size(); ++i) {
        const bool session = which == 1 && static_cast<int>(i) == session_slot_;
        const std::string_view v =
            fields.first_value(session ? session_id_ : rule_.group_by_ids[i], scratch);
        if (v.empty() || (session && !session_set(v))) return false;
        if (v.size() > limits::kFieldBytes) {
            // An empty segment cannot come from a value, so "\0digest\0" is never a real key.
            const XXH128_hash_t h = XXH3_128bits(v.data(), v.size());
            key += '\0';
            key += fmt::format("{:016x}{:016x}", h.high64, h.low64);
        } else {
            key.append(v);
        }
        key += '\0';
    }
    return true;
}

std::uint64_t GroupBy::terms(std::size_t which, const EventFields& fields,
                             std::vector<std::pair<std::string, std::string>>& out,
                             std::string& scratch) const {
    std::uint64_t cut = 0;
    out.clear();
    for (std::size_t i = 0; i < rule_.group_by_ids.size(); ++i) {
        const bool session = which == 1 && static_cast<int>(i) == session_slot_;
        const int id = session ? session_id_ : rule_.group_by_ids[i];
        std::string value(fields.first_value(id, scratch));
        cut += truncate_with_marker(value, limits::kFieldBytes) ? 1 : 0;
        out.emplace_back(session ? std::string("auditd.session") : rule_.group_by[i],
                         std::move(value));
    }
    return cut;
}

bool GroupBy::primary_key(const EventFields& fields, std::string& key, std::string& scratch,
                          std::size_t& which) const {
    if (groupings() == 2 && this->key(1, fields, key, scratch)) {
        which = 1;
        return true;
    }
    which = 0;
    return this->key(0, fields, key, scratch);
}

}  // namespace scanwatch::rules
