#include "rules/engines/group_by.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/group_table.h"

namespace scanwatch::rules {

GroupBy::GroupBy(const RuleDefinition& rule, bool session_grouping)
    : rule_(rule),
      session_id_(FieldCatalog::known_id("auditd.session")),
      grandparent_id_(FieldCatalog::known_id("process.parent.parent.entity_id")),
      user_id_(FieldCatalog::known_id("user.id")) {
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

GroupBy::Lineage GroupBy::lineage(const EventFields& fields, std::string& scratch) const {
    if (session_slot_ < 0) return Lineage::none;
    if (session_set(fields.first_value(session_id_, scratch))) return Lineage::session;
    // Without a login session (docs/detection.md): the normalizer sets the grandparent, or marks
    // a parent it cannot trace, only for such execs.
    if (!fields.event().grandparent_entity_id.empty()) return Lineage::grandparent;
    if (fields.event().parent_untraced && !fields.event().user.id.empty()) return Lineage::user;
    return Lineage::none;
}

std::string_view GroupBy::lineage_field(Lineage lineage) {
    switch (lineage) {
        case Lineage::session: return "auditd.session";
        case Lineage::grandparent: return "process.parent.parent.entity_id";
        case Lineage::user: return "user.id";
        case Lineage::none: break;
    }
    return {};
}

int GroupBy::lineage_id(Lineage lineage) const {
    switch (lineage) {
        case Lineage::session: return session_id_;
        case Lineage::grandparent: return grandparent_id_;
        case Lineage::user: return user_id_;
        case Lineage::none: break;
    }
    return -1;
}

bool GroupBy::key(std::size_t which, const EventFields& fields, std::string& key,
                  std::string& scratch) const {
    key.clear();
    int field_id = -1;
    if (which == 1) {
        const Lineage l = lineage(fields, scratch);
        if (l == Lineage::none) return false;
        field_id = lineage_id(l);
        // A byte no host id or entity id starts with keeps the groupings' keys apart: a session
        // number, an entity id and a uid never share a group.
        key += static_cast<char>(static_cast<int>(l));
    }
    for (std::size_t i = 0; i < rule_.group_by_ids.size(); ++i) {
        const bool in_place = which == 1 && static_cast<int>(i) == session_slot_;
        const std::string_view v =
            fields.first_value(in_place ? field_id : rule_.group_by_ids[i], scratch);
        if (v.empty()) return false;
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
    const Lineage l = which == 1 ? lineage(fields, scratch) : Lineage::none;
    for (std::size_t i = 0; i < rule_.group_by_ids.size(); ++i) {
        const bool in_place = l != Lineage::none && static_cast<int>(i) == session_slot_;
        const int id = in_place ? lineage_id(l) : rule_.group_by_ids[i];
        std::string value(fields.first_value(id, scratch));
        cut += truncate_with_marker(value, limits::kFieldBytes) ? 1 : 0;
        out.emplace_back(in_place ? std::string(lineage_field(l)) : rule_.group_by[i],
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
