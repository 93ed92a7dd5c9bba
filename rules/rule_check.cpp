#include "rules/rule_check.h"

#include "rules/esql/source.h"

#include <algorithm>
#include <array>
#include <functional>
#include <utility>

#include <fmt/format.h>

namespace scanwatch::rules {
namespace {

// The fields every scanwatch event of one shape carries with fixed values (event.outcome takes
// each of its values in turn). The names resolve to the same ids in any catalog.
struct FixedField {
    std::string_view name;
    std::string_view value;
};
constexpr std::array<FixedField, 3> kFixed = {{
    {"event.kind", "event"},
    {"event.module", "auditd"},
    {"host.os.type", "linux"},
}};

// The shapes of scanwatch events (docs/events.md): exec, connect, socket.
struct Shape {
    std::string_view category;
    std::array<std::string_view, 2> types;  // the second may be empty
    std::string_view action;
    std::array<std::string_view, 3> outcomes;  // empty ones unused
};
constexpr Shape kExec = {"process", {"start", ""}, "executed", {"success", "failure", ""}};
constexpr std::array<Shape, 2> kNetworkShapes = {{
    {"network", {"connection", "start"}, "connected-to", {"success", "failure", "unknown"}},
    {"network", {"info", ""}, "created-socket", {"success", "failure", ""}},
}};

int field_id(std::string_view name) {
    FieldCatalog catalog;
    return catalog.resolve(name);
}

// The fields a static check knows: the fixed ones (their value), event.outcome (one of its
// values), and every field scanwatch never sets (no value). The rest may hold anything.
class KnownFields final : public FieldAccessor {
public:
    KnownFields(const Shape& shape, std::string_view outcome) : shape_(shape), outcome_(outcome) {}

    bool any_value(int id, const std::function<bool(std::string_view)>& visit) const override {
        if (id == field_id("event.outcome")) return visit(outcome_);
        if (id == field_id("event.category")) return visit(shape_.category);
        if (id == field_id("event.action")) return visit(shape_.action);
        if (id == field_id("event.type")) {
            for (std::string_view t : shape_.types) {
                if (!t.empty() && visit(t)) return true;
            }
            return false;
        }
        for (const FixedField& f : kFixed) {
            if (id == field_id(f.name)) return visit(f.value);
        }
        return false;
    }

    static bool is_known(int id) {
        if (id < 0) return false;
        if (!FieldCatalog::is_known(id) || id == field_id("event.outcome") ||
            id == field_id("event.category") || id == field_id("event.action") ||
            id == field_id("event.type")) {
            return true;
        }
        for (const FixedField& f : kFixed) {
            if (id == field_id(f.name)) return true;
        }
        return false;
    }

private:
    const Shape& shape_;
    std::string_view outcome_;
};

bool shape_may_match(const Query& query, const Shape& shape) {
    for (std::string_view outcome : shape.outcomes) {
        if (!outcome.empty() && query.may_match(KnownFields(shape, outcome), &KnownFields::is_known)) {
            return true;
        }
    }
    return false;
}

bool shape_must_match(const Query& query, const Shape& shape) {
    for (std::string_view outcome : shape.outcomes) {
        if (!outcome.empty() && !query.must_match(KnownFields(shape, outcome), &KnownFields::is_known)) {
            return false;
        }
    }
    return true;
}

bool network_may_match(const Query& query) {
    for (const Shape& shape : kNetworkShapes) {
        if (shape_may_match(query, shape)) return true;
    }
    return false;
}

bool may_match(const Query& query) { return shape_may_match(query, kExec) || network_may_match(query); }

// may_match() with the fields `freed` (scanwatch never fills them) free to hold anything.
bool may_match_freeing(const Query& query, const std::vector<int>& freed) {
    const auto is_known = [&freed](int id) {
        return KnownFields::is_known(id) && std::find(freed.begin(), freed.end(), id) == freed.end();
    };
    std::vector<const Shape*> shapes = {&kExec};
    for (const Shape& s : kNetworkShapes) shapes.push_back(&s);
    for (const Shape* shape : shapes) {
        for (std::string_view outcome : shape->outcomes) {
            if (!outcome.empty() && query.may_match(KnownFields(*shape, outcome), is_known)) return true;
        }
    }
    return false;
}

// The fields scanwatch never fills that keep `query` from matching: when filling them all could
// let it match, those it needs each of (each one freed alone is not enough), or, if it needs
// none alone (`a:x or b:y`), all it reads. Empty when filling them would not help either.
std::vector<std::string> needed_unfilled(const Query& query) {
    std::vector<int> unfilled;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < query.field_ids().size(); ++i) {
        const int id = query.field_ids()[i];
        if (id >= 0 && !FieldCatalog::is_known(id)) {
            unfilled.push_back(id);
            names.push_back(query.field_names()[i]);
        }
    }
    if (unfilled.empty() || !may_match_freeing(query, unfilled)) return {};
    std::vector<std::string> needed;
    for (std::size_t i = 0; i < unfilled.size(); ++i) {
        std::vector<int> others = unfilled;
        others.erase(others.begin() + static_cast<std::ptrdiff_t>(i));
        if (!may_match_freeing(query, others)) needed.push_back(names[i]);
    }
    return needed.empty() ? names : needed;
}

bool must_match(const Query& query) {
    for (const Shape& shape : kNetworkShapes) {
        if (!shape_must_match(query, shape)) return false;
    }
    return shape_must_match(query, kExec);
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
    for (const auto& v : list) {
        if (v == value) return true;
    }
    return false;
}

std::string join(const std::vector<std::string>& list, std::string_view sep = ", ") {
    std::string out;
    for (const auto& v : list) {
        if (!out.empty()) out += sep;
        out += v;
    }
    return out;
}

// The most specific reason a query cannot match: a fixed field it requires another value of.
std::string query_reason(const RuleDefinition& rule) {
    const auto actions = rule.query.required_values(field_id("event.action"));
    const bool exec_like = std::any_of(actions.begin(), actions.end(), [](const std::string& a) {
        return a == "exec" || a == "exec_event" || a == "start" || a == "ProcessRollup2";
    });
    if (exec_like && !contains(actions, "executed")) {
        return fmt::format(
            "its query requires event.action to be {}: exec events as other agents (Elastic "
            "Defend, Sysmon, CrowdStrike) name them; scanwatch's exec events say executed, as "
            "Auditbeat's do, and --exec-action executed (the elastic profile's default) keeps "
            "it so (docs/rules.md, \"event.action\")",
            join(actions, " or "));
    }
    const auto categories = rule.query.required_values(field_id("event.category"));
    if (!categories.empty() && !contains(categories, "process") && !contains(categories, "network")) {
        return fmt::format("its query requires event.category to be {}; scanwatch events have "
                           "event.category: process or network",
                           join(categories, " or "));
    }
    for (const FixedField& f : kFixed) {
        const auto required = rule.query.required_values(field_id(f.name));
        if (!required.empty() && !contains(required, f.value)) {
            return fmt::format("its query requires {} to be {}; scanwatch events have {}: {}",
                               f.name, join(required, " or "), f.name, f.value);
        }
    }
    if (const auto needed = needed_unfilled(rule.query); !needed.empty()) {
        return fmt::format(
            "its query needs fields scanwatch never fills (written for another agent's data, "
            "such as Elastic Defend's): {}",
            join(needed));
    }
    std::string reason =
        "its query can never match a scanwatch exec event (event.category: process, event.type: "
        "start, event.action: executed, host.os.type: linux) nor network event (event.category: "
        "network, event.action: connected-to or created-socket)";
    if (!rule.unknown_fields.empty()) {
        reason += fmt::format("; it reads fields scanwatch events never carry: {}",
                              join(rule.unknown_fields));
    }
    return reason;
}

// Unknown fields the query reads, as opposed to group-by and cardinality fields.
std::vector<std::string> query_only_unknown(const RuleDefinition& rule) {
    std::vector<std::string> out;
    for (const auto& f : rule.unknown_fields) {
        const bool grouped = contains(rule.group_by, f);
        const bool counted = rule.cardinality && rule.cardinality->field == f;
        const bool tracked = contains(rule.new_terms.fields, f);
        if (!grouped && !counted && !tracked) out.push_back(f);
    }
    return out;
}

// Group-by and cardinality fields that hold a value only on some events.
std::string_view sometimes_empty(std::string_view field) {
    if (field == "user.name" || field == "user.effective.name" || field == "group.name" ||
        field == "user.audit.name") {
        return "has a value only when names are known: ENRICHED logs, or live modes that look "
               "names up; on RAW logs it is empty";
    }
    if (field == "process.parent.executable") {
        return "has a value only when the parent's own exec was in the stream (a subshell that "
               "never exec'd has none)";
    }
    if (field == "process.title" || field == "process.working_directory") {
        return "is empty when its audit record (PROCTITLE, CWD) is missing";
    }
    return {};
}

std::string describe_duration(std::int64_t ms) {
    if (ms % 3'600'000 == 0) return fmt::format("{} h", ms / 3'600'000);
    if (ms % 60'000 == 0) return fmt::format("{} min", ms / 60'000);
    return fmt::format("{} s", ms / 1000);
}

}  // namespace

// Why an EQL sequence or sample can never complete on scanwatch events: a term (not a missing
// event) of another category, or one no event can match, or a join key field scanwatch never
// carries that is not optional (such an event takes no part, as in Elasticsearch).
static std::vector<std::string> sequence_cannot_fire_reasons(const EqlSequence& seq) {
    std::vector<std::string> out;
    const auto check_keys = [&](const EqlStage& s) {
        for (std::size_t k = 0; k < s.key_ids.size(); ++k) {
            if (!FieldCatalog::is_known(s.key_ids[k]) && !s.key_optional[k]) {
                out.push_back(fmt::format("it joins on {}, a field scanwatch events never carry "
                                          "(an event without a join key value joins nothing)",
                                          s.key_names[k]));
                return;
            }
        }
    };
    std::size_t last_written = seq.stages.size() + 1;
    for (const EqlStage& s : seq.stages) {
        if (s.missing || s.written == last_written) continue;
        last_written = s.written;
        const std::size_t before = out.size();
        if (s.category != "process" && s.category != "network" && s.category != "any") {
            out.push_back(fmt::format("its term {} is of EQL event category {}; scanwatch has only "
                                      "process and network events",
                                      s.written + 1, s.category));
        } else if (!may_match(s.query)) {
            // The single-event reason, said of the term.
            RuleDefinition term;
            term.query = s.query;
            std::string reason = query_reason(term);
            if (reason.rfind("its query", 0) == 0) reason.erase(0, 9);
            out.push_back(fmt::format("its term {} ({} where ...){}", s.written + 1, s.category, reason));
        }
        if (out.size() == before) check_keys(s);
    }
    return out;
}

std::vector<std::string> cannot_fire_reasons(const RuleDefinition& rule) {
    if (rule.rule_type == RuleType::esql) return esql_source::cannot_fire_reasons(rule);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < rule.group_by.size(); ++i) {
        if (!FieldCatalog::is_known(rule.group_by_ids[i])) {
            out.push_back(fmt::format(
                "it groups by {}, a field scanwatch events never carry, so every event counts in "
                "no group",
                rule.group_by[i]));
        }
    }
    if (rule.cardinality && !FieldCatalog::is_known(rule.cardinality->field_id)) {
        out.push_back(fmt::format(
            "it counts distinct values of {}, a field scanwatch events never carry, so the "
            "cardinality stays 0",
            rule.cardinality->field));
    }
    if (rule.eql_sequence) {
        for (auto& reason : sequence_cannot_fire_reasons(*rule.eql_sequence)) out.push_back(std::move(reason));
    } else if (rule.rule_type == RuleType::eql && rule.eql_category != "process" &&
        rule.eql_category != "network" && rule.eql_category != "any") {
        out.push_back(fmt::format(
            "its EQL event category is {}; scanwatch has only process and network events",
            rule.eql_category));
    }
    for (std::size_t i = 0; i < rule.new_terms.fields.size(); ++i) {
        if (!FieldCatalog::is_known(rule.new_terms.field_ids[i])) {
            out.push_back(fmt::format(
                "its new terms are values of {}, a field scanwatch events never carry",
                rule.new_terms.fields[i]));
        }
    }
    if (!may_match(rule.query)) out.push_back(query_reason(rule));
    for (const RuleException& e : rule.exceptions) {
        if (must_match(e.query)) {
            out.push_back(fmt::format("the exception at {} ({}) matches every scanwatch event",
                                      e.place(), e.query.to_string()));
        }
    }
    return out;
}

bool query_may_match(const Query& query) {
    return may_match(query);
}

bool query_may_match_exec(const Query& query) { return shape_may_match(query, kExec); }

bool query_may_match_network(const Query& query) { return network_may_match(query); }

bool can_fire(const RuleDefinition& rule) {
    return cannot_fire_reasons(rule).empty();
}

std::vector<std::string> rule_warnings(const RuleDefinition& rule) {
    std::vector<std::string> out;
    const auto reasons = cannot_fire_reasons(rule);
    for (const auto& r : reasons) out.push_back("cannot fire on scanwatch events: " + r);
    const auto unknown = query_only_unknown(rule);
    if (!unknown.empty()) {
        out.push_back(fmt::format(
            "its query reads fields scanwatch events never carry; they never have a value here: {}",
            join(unknown)));
    }
    for (const RuleException& e : rule.exceptions) {
        if (!may_match(e.query)) {
            std::string msg =
                fmt::format("the exception at {} ({}) can never match a scanwatch event", e.place(),
                            e.query.to_string());
            if (!e.unknown_fields.empty()) {
                msg += fmt::format(": it reads fields scanwatch events never carry: {}",
                                   join(e.unknown_fields));
            }
            out.push_back(std::move(msg));
        } else if (!e.unknown_fields.empty()) {
            out.push_back(fmt::format(
                "the exception at {} reads fields scanwatch events never carry; they never have a "
                "value here: {}",
                e.place(), join(e.unknown_fields)));
        }
    }
    return out;
}

namespace {

using LineFn = std::function<void(std::string_view, std::string_view)>;

// An EQL sequence or sample, term by term (runs shown once, as written).
void explain_sequence(const EqlSequence& seq, const LineFn& line) {
    const auto keys = [](const EqlStage& s, std::size_t from) {
        std::vector<std::string> names;
        for (std::size_t k = from; k < s.key_names.size(); ++k) {
            names.push_back((s.key_optional[k] ? "?" : "") + s.key_names[k]);
        }
        return names;
    };
    const EqlStage& first = seq.stages.front();
    std::string head = seq.sample ? "sample" : "sequence";
    if (seq.sequence_keys > 0) {
        std::vector<std::string> names = keys(first, 0);
        names.resize(seq.sequence_keys);
        head += " by " + join(names);
    }
    if (seq.maxspan_ms > 0) head += fmt::format(", maxspan {}", describe_duration(seq.maxspan_ms));
    if (!seq.sample && seq.maxspan_ms == 0) head += " (no maxspan: within the rule's look-back)";
    line(seq.sample ? "sample" : "sequence", head);
    const auto term = [&](const EqlStage& s, std::size_t runs) {
        std::string text = fmt::format("{}[{} where {}]", s.missing ? "!" : "", s.category,
                                       s.query.to_string());
        const auto own = keys(s, seq.sequence_keys);
        if (!own.empty()) text += " by " + join(own);
        if (runs > 1) text += fmt::format(" with runs={}", runs);
        return text;
    };
    for (std::size_t i = 0; i < seq.stages.size();) {
        std::size_t runs = 1;
        while (i + runs < seq.stages.size() && seq.stages[i + runs].written == seq.stages[i].written) {
            ++runs;
        }
        line(i == 0 ? "terms" : "", fmt::format("{}. {}", seq.stages[i].written + 1, term(seq.stages[i], runs)));
        i += runs;
    }
    if (seq.has_until) line("until", term(seq.until, 1));
}

void explain_event_rule(const RuleDefinition& rule, const LineFn& line) {
    if (rule.rule_type == RuleType::new_terms) {
        line("new terms",
             fmt::format("an alert when a matching event's {} {} not seen in the {} before it "
                         "(history_window_start = \"{}\")",
                         join(rule.new_terms.fields, " + "),
                         rule.new_terms.fields.size() == 1 ? "value was" : "values were",
                         describe_duration(rule.new_terms.history_window_ms),
                         rule.new_terms.history_window_start_text));
    } else if (rule.eql_sequence) {
        line("alerts", "per sequence found: a building-block alert per event, then a shell alert "
                       "of the fields they share (docs/alerts.md)");
    } else {
        line("alerts", rule.rule_type == RuleType::eql
                           ? fmt::format("one per matching event (EQL, {} where ...)", rule.eql_category)
                           : std::string("one per matching event (KQL)"));
    }
    line("window", fmt::format("runs every {} (interval = \"{}\"), at most {} alerts per interval "
                               "(max_signals)",
                               describe_duration(rule.interval_ms), rule.interval_text,
                               rule.max_signals));
}

void explain_threshold(const RuleDefinition& rule, bool session_grouping, const LineFn& line) {
    line("group by", rule.group_by.empty() ? std::string("nothing (one group for all events)")
                                           : join(rule.group_by));
    if (session_grouping && contains(rule.group_by, std::string("process.parent.entity_id"))) {
        line("", "and, hardened profile, by auditd.session in place of process.parent.entity_id "
                 "when the exec has a login session (a forking wrapper cannot split a sweep; "
                 "--profile elastic turns this off; docs/detection.md)");
        line("", "without a login session, by process.parent.parent.entity_id (the parent's "
                 "parent; never pid 1 or a service manager), or user.id where the parent is a "
                 "fork the log cannot trace");
    } else if (session_grouping && contains(rule.group_by, std::string("process.entity_id"))) {
        line("", "and, hardened profile, by auditd.session in place of process.entity_id "
                 "when the event has a login session (a process per connection cannot split a "
                 "scan; --profile elastic turns this off; docs/detection.md)");
    }
    std::string threshold = fmt::format("a group alerts with at least {} event{}",
                                        rule.threshold_value, rule.threshold_value == 1 ? "" : "s");
    if (rule.cardinality) {
        threshold += fmt::format(" and at least {} distinct values of {}", rule.cardinality->value,
                                 rule.cardinality->field);
    }
    line("threshold", threshold);
    line("window",
         fmt::format("look-back {} (from = \"{}\"), runs every {} (interval = \"{}\"), "
                     "at most {} alerts per interval (max_signals)",
                     describe_duration(rule.from_ms), rule.from_text,
                     describe_duration(rule.interval_ms), rule.interval_text, rule.max_signals));
}

void explain_tail(const RuleDefinition& rule, const LineFn& line) {
    for (std::size_t i = 0; i < rule.threat.size(); ++i) {
        const Threat& t = rule.threat[i];
        std::vector<std::string> techniques;
        for (const auto& tech : t.techniques)
            techniques.push_back(fmt::format("{} {}", tech.id, tech.name));
        line(i == 0 ? "threat" : "", fmt::format("{} {} {}: {}", t.framework, t.tactic.id,
                                                 t.tactic.name, join(techniques)));
    }
    std::vector<std::string> notes;
    std::vector<std::string> read = rule.group_by;
    if (rule.cardinality) read.push_back(rule.cardinality->field);
    for (const auto& f : rule.new_terms.fields) read.push_back(f);
    for (std::size_t i = 0; i < read.size(); ++i) {
        const std::string_view why = sometimes_empty(read[i]);
        if (why.empty()) continue;
        const bool grouped = i < rule.group_by.size();
        notes.push_back(fmt::format("{} {}{}", read[i], why,
                                    grouped ? "; an event without it counts in no group" : ""));
    }
    for (std::size_t i = 0; i < notes.size(); ++i) line(i == 0 ? "notes" : "", notes[i]);
    const auto warnings = rule_warnings(rule);
    if (warnings.empty()) line("warnings", "none");
    for (std::size_t i = 0; i < warnings.size(); ++i) line(i == 0 ? "warnings" : "", warnings[i]);
}

}  // namespace

std::string explain_rule(const RuleDefinition& rule, bool session_grouping) {
    std::string out;
    const LineFn line = [&out](std::string_view label, std::string_view text) {
        out += fmt::format("  {:<13}{}\n", label, text);
    };
    out += fmt::format("rule \"{}\"\n", rule.name);
    line("rule_id", rule.rule_id);
    line("source", rule.source);
    line("fingerprint", rule.fingerprint);
    line("type", fmt::format("{}, severity {}, risk score {}, version {}", rule.type, rule.severity,
                             rule.risk_score, rule.version));
    if (rule.eql_sequence) {
        explain_sequence(*rule.eql_sequence, line);
    } else {
    line("matches", rule.query.to_string());
    if (rule.exec_alias) {
        line("", "(event.action: other agents' exec names also accept scanwatch's executed, "
                 "--exec-action any; docs/rules.md)");
    }
    const auto names = rule.query.required_values(field_id("process.name"));
    line("process.name",
         names.empty()
             ? std::string(
                   "no one list of names required at the top level of the query (see matches)")
             : fmt::format("one of {} (comm; with --name-match any also the basename "
                           "of exe or argv[0], or a busybox/toybox applet)",
                           join(names)));
    }
    if (rule.exceptions.empty()) {
        line("exceptions", "none");
    } else {
        for (std::size_t i = 0; i < rule.exceptions.size(); ++i) {
            const RuleException& e = rule.exceptions[i];
            std::string text = fmt::format("not {}  [{}", e.query.to_string(), e.place());
            if (!e.description.empty()) text += fmt::format(": {}", e.description);
            text += ']';
            line(i == 0 ? "exceptions" : "", text);
        }
    }
    if (rule.rule_type != RuleType::threshold) {
        explain_event_rule(rule, line);
    } else {
        explain_threshold(rule, session_grouping, line);
    }
    explain_tail(rule, line);
    return out;
}

}  // namespace scanwatch::rules
