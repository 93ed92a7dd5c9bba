#include "rules/esql/source.h"

#include <algorithm>

#include <fmt/format.h>

#include "rules/rule.h"

namespace scanwatch::rules::esql_source {
namespace {

// Fields a view fills besides the FieldCatalog's.
constexpr std::string_view kViewFields[] = {"@timestamp", "_id", "_index", "_version", "agent.id",
                                            "data_stream.dataset", "data_stream.namespace",
                                            "data_stream.type"};

// Fields whose values are numbers in ECS (long); the rest are keywords.
constexpr std::string_view kLongFields[] = {"process.pid", "process.parent.pid",
                                            "process.parent.parent.pid", "process.args_count",
                                            "process.parent.args_count", "destination.port"};

bool is_view_field(std::string_view name) {
    return std::find(std::begin(kViewFields), std::end(kViewFields), name) != std::end(kViewFields);
}

std::vector<std::string> computed_columns(const esql::Pipeline& p) {
    std::vector<std::string> out;
    for (const esql::Command& c : p.commands) {
        for (const auto& a : c.assignments) out.push_back(a.name);
        for (const auto& a : c.by) out.push_back(a.name);
        for (const auto& r : c.renames) out.push_back(r.second);
    }
    return out;
}

bool known(std::string_view name) {
    return is_view_field(name) || FieldCatalog::known_id(name) >= 0;
}

void join_names(std::string& out, const std::vector<std::string>& names) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ", ";
        out += names[i];
    }
}

// The values a field can have as one value (a comparison's operand) in the views a FROM reads;
// null when the field is not one of those fixed by the view.
const std::vector<std::string>* fixed_values(const Sources& s, std::string_view field,
                                              std::vector<std::string>& scratch) {
    scratch.clear();
    const auto add = [&scratch](std::initializer_list<const char*> values) {
        for (const char* v : values) scratch.emplace_back(v);
    };
    if (field == "host.os.type") {
        add({"linux"});
    } else if (field == "event.kind") {
        add({"event"});
    } else if (field == "event.module") {
        add({"auditd"});
    } else if (field == "data_stream.type") {
        add({"logs"});
    } else if (field == "data_stream.namespace") {
        add({"default"});
    } else if (field == "data_stream.dataset") {
        if (s.auditd) add({"auditd_manager.auditd"});
        if (s.endpoint_process) add({"endpoint.events.process"});
        if (s.endpoint_network) add({"endpoint.events.network"});
    } else if (field == "event.category") {
        if (s.auditd || s.endpoint_process) add({"process"});
        if (s.auditd || s.endpoint_network) add({"network"});
    } else if (field == "event.action") {
        if (s.auditd) add({"executed", "connected-to", "created-socket"});
        if (s.endpoint_process) add({"exec"});
        if (s.endpoint_network) add({"connection_attempted"});
    } else if (field == "event.type") {
        // A connect's ["connection", "start"] is multi-valued: a comparison on it is null.
        if (s.auditd) add({"start", "info"});
        if (s.endpoint_process || s.endpoint_network) add({"start"});
    } else {
        return nullptr;
    }
    return &scratch;
}

struct Never {
    const Sources& sources;
    const std::vector<std::string>& computed;
    std::vector<std::string>& reasons;

    bool fixed(const esql::Expr& col) const {
        return std::find(computed.begin(), computed.end(), col.name) == computed.end();
    }

    // True when the condition is never true on any row of scanwatch's; says why once.
    bool check(const esql::Expr& e) const {
        using K = esql::Expr::Kind;
        if (e.kind == K::binary && e.op == "and") return check(e.args[0]) || check(e.args[1]);
        if (e.kind == K::binary && e.op == "or") {
            std::vector<std::string> mine;
            Never left{sources, computed, mine};
            if (!left.check(e.args[0])) return false;
            if (!left.check(e.args[1])) return false;
            reasons.push_back(fmt::format("no branch of the OR at line {} of its query can be true on scanwatch events", e.line));
            return true;
        }
        const bool predicate = (e.kind == K::binary && e.op.size() <= 2 && e.op != "+" &&
                                e.op != "-" && e.op != "*" && e.op != "/" && e.op != "%") ||
                               e.kind == K::in || e.kind == K::like || e.kind == K::rlike ||
                               (e.kind == K::is_null && e.negated);
        if (!predicate || e.args.empty()) return false;
        for (const esql::Expr& a : e.args) {
            if (a.kind == K::column && fixed(a) && !known(a.name)) {
                reasons.push_back(fmt::format(
                    "line {} of its query (WHERE) needs a value of {}, a field scanwatch events never carry",
                    a.line, a.name));
                return true;
            }
        }
        const esql::Expr& col = e.args[0];
        if (col.kind != K::column || !fixed(col)) return false;
        std::vector<std::string> scratch;
        const std::vector<std::string>* values = fixed_values(sources, col.name, scratch);
        if (values == nullptr) return false;
        std::vector<const esql::Expr*> literals;
        if (e.kind == K::binary && e.op == "==" && e.args[1].kind == K::literal) {
            literals.push_back(&e.args[1]);
        } else if (e.kind == K::in && !e.negated) {
            for (std::size_t i = 1; i < e.args.size(); ++i) {
                if (e.args[i].kind != K::literal) return false;
                literals.push_back(&e.args[i]);
            }
        } else {
            return false;
        }
        for (const std::string& v : *values) {
            for (const esql::Expr* lit : literals) {
                const esql::Scalar* s = lit->value.single();
                const auto* text = s != nullptr ? std::get_if<std::string>(s) : nullptr;
                if (text == nullptr || *text == v) return false;
            }
        }
        std::string list;
        join_names(list, *values);
        reasons.push_back(fmt::format("line {} of its query (WHERE) needs {} to be a value scanwatch's "
                                      "events never have here (they have {})",
                                      e.line, col.name, list));
        return true;
    }
};

}  // namespace

bool never_true(const esql::Expr& condition, const Sources& sources,
                const std::vector<std::string>& computed) {
    std::vector<std::string> reasons;
    return Never{sources, computed, reasons}.check(condition);
}

Sources sources_of(const esql::Pipeline& p) {
    Sources s;
    for (const std::string& pattern : p.indices) {
        if (esql::index_matches(pattern, kAuditdStream) || esql::index_matches(pattern, kAuditbeatIndex)) {
            s.auditd = true;
        }
        if (esql::index_matches(pattern, kEndpointProcessStream)) s.endpoint_process = true;
        if (esql::index_matches(pattern, kEndpointNetworkStream)) s.endpoint_network = true;
    }
    if (s.auditd) s.endpoint_process = s.endpoint_network = false;
    return s;
}

RowPlan row_plan(const esql::Pipeline& p, const Sources& s) {
    RowPlan plan;
    plan.sources = s;
    const bool endpoint = !s.auditd;
    const auto add = [&](const std::string& name) {
        for (const RowPlan::Column& c : plan.columns) {
            if (c.name == name) return;
        }
        RowPlan::Column c;
        c.name = name;
        using S = RowPlan::Source;
        if (name == "@timestamp") {
            c.source = S::timestamp;
        } else if (name == "_id") {
            c.source = S::id;
        } else if (name == "_index") {
            c.source = S::index;
        } else if (name == "_version") {
            c.source = S::version;
        } else if (name == "agent.id") {
            c.source = S::agent_id;
        } else if (name == "data_stream.dataset") {
            c.source = S::dataset;
        } else if (name == "data_stream.namespace" || name == "data_stream.type") {
            c.source = S::constant;
            c.text = name == "data_stream.type" ? "logs" : "default";
        } else if (endpoint && (name == "event.action" || name == "event.type")) {
            c.source = name == "event.action" ? S::endpoint_action : S::endpoint_type;
        } else {
            c.field_id = FieldCatalog::known_id(name);
            if (c.field_id < 0) return;
            c.is_long = std::find(std::begin(kLongFields), std::end(kLongFields), name) != std::end(kLongFields);
        }
        plan.columns.push_back(std::move(c));
    };
    for (const std::string& name : p.metadata) add(name);
    for (const std::string& name : p.reads) add(name);
    return plan;
}

bool source_row(const RowPlan& plan, const ProcessEvent& event, esql::Row& row,
                const std::vector<std::size_t>* only) {
    const Sources& s = plan.sources;
    const bool exec = event.kind == EventKind::exec;
    const bool connect = event.kind == EventKind::connect;
    const bool endpoint = !s.auditd;
    if (endpoint && !((exec && s.endpoint_process) || (connect && s.endpoint_network))) return false;
    if (!s.any()) return false;
    // process.name is one value, the comm, as in Elastic's documents: the wider name match
    // (docs/detection.md) would make it multi-valued, and a comparison on it null.
    const EventFields fields(event, NameMatch::comm);
    // The row's storage is reused: a row filled again allocates nothing once it has grown.
    std::size_t used = 0;
    std::size_t items = 0;
    esql::Value* v = nullptr;
    const auto put = [&](auto value) {  // a number or a date
        if (items < v->items.size()) {
            v->items[items] = value;
        } else {
            v->items.emplace_back(value);
        }
        ++items;
    };
    const auto put_text = [&](std::string_view text) {
        if (items < v->items.size()) {
            if (auto* str = std::get_if<std::string>(&v->items[items])) {
                str->assign(text.data(), text.size());
                ++items;
                return;
            }
        }
        if (items < v->items.size()) {
            v->items[items] = std::string(text);
        } else {
            v->items.emplace_back(std::string(text));
        }
        ++items;
    };
    const std::size_t count = only != nullptr ? only->size() : plan.columns.size();
    for (std::size_t i = 0; i < count; ++i) {
        const RowPlan::Column& c = plan.columns[only != nullptr ? (*only)[i] : i];
        if (used == row.columns.size()) row.columns.emplace_back();
        auto& column = row.columns[used];
        v = &column.second;
        items = 0;
        using S = RowPlan::Source;
        switch (c.source) {
            case S::timestamp: put(esql::Date{event.time_ms}); break;
            case S::id: put_text(event.event_id()); break;
            case S::index:
                put_text(s.auditd ? kAuditdStream : exec ? kEndpointProcessStream : kEndpointNetworkStream);
                break;
            case S::version: put(std::int64_t{1}); break;
            case S::agent_id:
                if (!event.host_id.empty()) put_text(event.host_id);
                break;
            case S::dataset:
                put_text(s.auditd ? "auditd_manager.auditd"
                                  : exec ? "endpoint.events.process" : "endpoint.events.network");
                break;
            case S::endpoint_action: put_text(exec ? "exec" : "connection_attempted"); break;
            case S::endpoint_type: put_text("start"); break;
            case S::constant: put_text(c.text); break;
            case S::field:
                fields.any_value(c.field_id, [&](std::string_view value) {
                    std::int64_t n = 0;
                    if (c.is_long && esql::parse_long(value, n)) {
                        put(n);
                    } else {
                        put_text(value);
                    }
                    return false;
                });
                break;
        }
        if (items == 0) continue;  // null: no column (the slot is reused by the next)
        v->items.resize(items);
        if (column.first != c.name) column.first = c.name;
        ++used;
    }
    row.columns.erase(row.columns.begin() + static_cast<std::ptrdiff_t>(used), row.columns.end());
    return true;
}

bool source_row(const esql::Pipeline& p, const Sources& s, const ProcessEvent& event,
                NameMatch /*name_match*/, esql::Row& row) {
    return source_row(row_plan(p, s), event, row);
}

std::vector<std::string> unknown_fields(const esql::Pipeline& p) {
    const auto computed = computed_columns(p);
    std::vector<std::string> out;
    for (const std::string& name : p.reads) {
        if (known(name) || std::find(computed.begin(), computed.end(), name) != computed.end()) continue;
        out.push_back(name);
    }
    for (const std::string& name : p.metadata) {
        if (!known(name) && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    return out;
}

std::vector<std::string> cannot_fire_reasons(const RuleDefinition& rule) {
    std::vector<std::string> out;
    if (!rule.esql) return out;
    const esql::Pipeline& p = *rule.esql;
    const Sources sources = sources_of(p);
    if (!sources.any()) {
        std::string indices;
        join_names(indices, p.indices);
        out.push_back(fmt::format(
            "its FROM reads {}, which hold nothing of scanwatch's (its events stand in for "
            "logs-auditd_manager.auditd-*, auditbeat-*, logs-endpoint.events.process-* and "
            "logs-endpoint.events.network-*)",
            indices));
        return out;
    }
    // A row-by-row WHERE that needs a value of a field no event has drops every row.
    std::vector<std::string> computed;
    for (std::size_t i = 0; i < p.row_prefix; ++i) {
        const esql::Command& c = p.commands[i];
        if (c.kind == esql::Command::Kind::where) {
            std::vector<std::string> reasons;
            if (Never{sources, computed, reasons}.check(c.condition) && !reasons.empty()) {
                out.push_back(reasons.back());
                return out;
            }
        }
        for (const auto& a : c.assignments) computed.push_back(a.name);
        for (const auto& r : c.renames) computed.push_back(r.second);
    }
    return out;
}

}  // namespace scanwatch::rules::esql_source
