#pragma once
// ECS field names a rule can read from a ProcessEvent, and the accessor the KQL matcher and the
// threshold engine use to read them.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "parsers/ecs/enum_names.h"
#include "rules/query/query.h"

namespace scanwatch::rules {

/// How `process.name` matches (docs/detection.md).
enum class NameMatch {
    /// comm, basename of exe, basename of argv[0], a multi-call binary's applet, the program
    /// of a directly run dynamic loader, or the tool a hard link is of (live modes)
    any,
    comm,  ///< comm only: Elastic's exact behaviour
};

/// The names of NameMatch.
inline constexpr EnumName<NameMatch> kNameMatchNames[] = {{"any", NameMatch::any},
                                                         {"comm", NameMatch::comm}};

/// Parses "any" / "comm"; false if neither.
bool parse_name_match(std::string_view text, NameMatch& out);

/// Resolves ECS field names to ids. Fields scanwatch never produces get ids too (they never
/// have a value), so rules written for other data load and stay silent; they are listed.
class FieldCatalog {
public:
    /// The id of `name`; registers an unknown name.
    int resolve(std::string_view name);
    /// Names the rules asked for that no scanwatch event carries.
    const std::vector<std::string>& unknown_fields() const { return unknown_; }
    /// True when `id` is a field scanwatch events carry.
    static bool is_known(int id);
    /// The ECS name of a known field id.
    static std::string_view name_of(int id);
    /// The id of a field scanwatch events carry, or -1.
    static int known_id(std::string_view name);
    /// A resolver bound to this catalog, for Query::parse.
    FieldResolver resolver();

private:
    std::vector<std::string> unknown_;
};

/// Reads fields of one event. Borrowed: lives no longer than the event.
class EventFields final : public FieldAccessor {
public:
    EventFields(const ProcessEvent& event, NameMatch name_match)
        : event_(event), name_match_(name_match) {}

    bool any_value(int field_id, const std::function<bool(std::string_view)>& visit) const override;

    /// The first value of a field (for group-by terms), or empty when it has none.
    /// May point into `scratch`.
    std::string_view first_value(int field_id, std::string& scratch) const;

    const ProcessEvent& event() const { return event_; }

private:
    const ProcessEvent& event_;
    NameMatch name_match_;
};

}  // namespace scanwatch::rules
