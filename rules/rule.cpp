#include "rules/rule.h"

#include "rules/esql/source.h"
#include "rules/query/eql/eql.h"
#include "rules/rule_toml.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <xxhash.h>

namespace scanwatch::rules {
namespace {

using detail::Place;
using detail::place_of;
using detail::query_place;

class Loader {
public:
    Loader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

    RuleResult load();

private:
    RuleError error(Place at, std::string message) const {
        return RuleError{std::string(source_), at.line, at.column, std::move(message)};
    }
    std::optional<RuleError> read_threshold(const toml::table& rule, Place rule_place,
                                            RuleDefinition& def, FieldCatalog& catalog) const;
    std::optional<RuleError> read_new_terms(const toml::table& rule, Place rule_place,
                                            RuleDefinition& def, FieldCatalog& catalog) const;
    static std::vector<Threat> read_threat(const toml::table& rule);
    std::optional<RuleError> read_exceptions(const toml::table& rule, RuleDefinition& def) const;

    std::string_view text_;
    std::string_view source_;
};

template <typename T>
std::optional<T> get(const toml::table& t, std::string_view key) {
    return t[key].value<T>();
}

std::string get_string(const toml::table& t, std::string_view key, std::string fallback = {}) {
    auto v = t[key].value<std::string>();
    return v ? *v : std::move(fallback);
}

ThreatRef read_ref(const toml::table* t) {
    if (t == nullptr) return {};
    return {get_string(*t, "id"), get_string(*t, "name"), get_string(*t, "reference")};
}

std::vector<Threat> Loader::read_threat(const toml::table& rule) {
    std::vector<Threat> out;
    const toml::array* threats = rule["threat"].as_array();
    if (threats == nullptr) return out;
    for (const auto& node : *threats) {
        const toml::table* t = node.as_table();
        if (t == nullptr) continue;
        Threat threat;
        threat.framework = get_string(*t, "framework");
        threat.tactic = read_ref((*t)["tactic"].as_table());
        if (const toml::array* techniques = (*t)["technique"].as_array()) {
            for (const auto& tech : *techniques) threat.techniques.push_back(read_ref(tech.as_table()));
        }
        out.push_back(std::move(threat));
    }
    return out;
}

std::optional<RuleError> Loader::read_threshold(const toml::table& rule, Place rule_place,
                                                RuleDefinition& def,
                                                FieldCatalog& catalog) const {
    const toml::table* th = rule["threshold"].as_table();
    if (th == nullptr) return error(rule_place, "a threshold rule needs a [rule.threshold] table");
    const Place th_place = place_of(*th);
    const toml::node* field = th->get("field");
    if (field != nullptr) {
        if (auto one = field->value<std::string>()) {
            if (!one->empty()) def.group_by.push_back(*one);
        } else if (const toml::array* many = field->as_array()) {
            for (const auto& f : *many) {
                auto name = f.value<std::string>();
                if (!name) return error(place_of(f), "threshold.field entries must be strings");
                def.group_by.push_back(*name);
            }
        } else {
            return error(place_of(*field), "threshold.field must be a string or an array of strings");
        }
    }
    for (const auto& name : def.group_by) def.group_by_ids.push_back(catalog.resolve(name));
    const auto value = get<std::int64_t>(*th, "value");
    if (!value || *value < 1) return error(th_place, "threshold.value must be an integer >= 1");
    def.threshold_value = static_cast<std::uint64_t>(*value);
    if (const toml::array* cards = (*th)["cardinality"].as_array()) {
        if (cards->size() > 1) {
            return error(place_of(*cards), "only one threshold.cardinality entry is supported");
        }
        for (const auto& node : *cards) {
            const toml::table* c = node.as_table();
            if (c == nullptr) return error(place_of(node), "threshold.cardinality entries must be tables");
            Cardinality card;
            card.field = get_string(*c, "field");
            const auto cv = get<std::int64_t>(*c, "value");
            if (card.field.empty() || !cv || *cv < 1) {
                return error(place_of(*c), "threshold.cardinality needs a field and a value >= 1");
            }
            card.value = static_cast<std::uint64_t>(*cv);
            if (card.value > kMaxCardinality) {
                return error(place_of(*c),
                             fmt::format("threshold.cardinality value {} is over {}: a group keeps "
                                         "that many distinct values in memory (docs/rules.md)",
                                         card.value, kMaxCardinality));
            }
            card.field_id = catalog.resolve(card.field);
            def.cardinality = std::move(card);
        }
    }
    return std::nullopt;
}

std::optional<RuleError> Loader::read_new_terms(const toml::table& rule, Place rule_place,
                                                RuleDefinition& def,
                                                FieldCatalog& catalog) const {
    const toml::table* nt = rule["new_terms"].as_table();
    if (nt == nullptr) return error(rule_place, "a new_terms rule needs a [rule.new_terms] table");
    const Place nt_place = place_of(*nt);
    // detection-rules writes `field = "new_terms_fields"` and the fields in `value`.
    const toml::node* value = nt->get("value");
    const toml::array* fields = value != nullptr ? value->as_array() : nullptr;
    if (fields == nullptr || fields->empty()) {
        return error(nt_place, "new_terms.value must be a non-empty array of field names");
    }
    // Kibana takes at most 3 fields.
    if (fields->size() > 3) return error(place_of(*fields), "new_terms.value takes at most 3 fields");
    for (const auto& f : *fields) {
        auto name = f.value<std::string>();
        if (!name || name->empty()) return error(place_of(f), "new_terms.value entries must be field names");
        def.new_terms.fields.push_back(*name);
        def.new_terms.field_ids.push_back(catalog.resolve(*name));
    }
    std::string start;
    if (const toml::array* history = (*nt)["history_window_start"].as_array()) {
        for (const auto& h : *history) {
            if (const toml::table* ht = h.as_table()) {
                if (get_string(*ht, "field") == "history_window_start") start = get_string(*ht, "value");
            }
        }
    }
    if (start.empty()) {
        return error(nt_place, "new_terms needs [[rule.new_terms.history_window_start]] with a value like now-7d");
    }
    def.new_terms.history_window_start_text = start;
    def.new_terms.history_window_ms = parse_duration_ms(start);
    if (def.new_terms.history_window_ms <= 0) {
        return error(nt_place, fmt::format("new_terms.history_window_start \"{}\" is not a duration like now-7d", start));
    }
    return std::nullopt;
}

std::optional<RuleError> Loader::read_exceptions(const toml::table& rule,
                                                 RuleDefinition& def) const {
    const toml::node* node = rule.get("exceptions");
    if (node == nullptr) return std::nullopt;
    const toml::array* list = node->as_array();
    if (list == nullptr) {
        return error(place_of(*node), "rule.exceptions must be [[rule.exceptions]] tables");
    }
    for (const auto& entry : *list) {
        auto read = detail::read_exception(entry, text_, source_, "rule.exceptions", false);
        if (auto* e = std::get_if<RuleError>(&read)) return std::move(*e);
        def.exceptions.push_back(std::get<RuleException>(std::move(read)));
    }
    return std::nullopt;
}

// An ES|QL rule's query.
std::variant<std::shared_ptr<const esql::Pipeline>, QueryError> load_esql(const std::string& text) {
    auto parsed = esql::parse(text);
    if (auto* e = std::get_if<QueryError>(&parsed)) return std::move(*e);
    return std::make_shared<const esql::Pipeline>(std::get<esql::Pipeline>(std::move(parsed)));
}

std::vector<std::string> esql_unknown_fields(const esql::Pipeline& p) {
    return esql_source::unknown_fields(p);
}

// The rule's query in its language; EQL also gives its event category.
std::variant<Query, QueryError> parse_query(RuleDefinition& def, FieldCatalog& catalog) {
    if (def.rule_type != RuleType::eql) return Query::parse(def.query_text, catalog.resolver());
    auto parsed = parse_eql(def.query_text, catalog.resolver());
    if (auto* e = std::get_if<QueryError>(&parsed)) return std::move(*e);
    auto& eql = std::get<EqlQuery>(parsed);
    def.eql_category = std::move(eql.category);
    def.eql_sequence = std::move(eql.sequence);
    return std::move(eql.query);
}

RuleResult Loader::load() {
    toml::table doc;
    if (auto syntax = detail::parse_toml(text_, source_, doc)) return *syntax;
    const toml::table* rule = doc["rule"].as_table();
    if (rule == nullptr) return error({1, 1}, "no [rule] table");
    const Place rule_place = place_of(*rule);

    auto def = std::make_shared<RuleDefinition>();
    def->source = std::string(source_);
    const XXH128_hash_t h = XXH3_128bits(text_.data(), text_.size());
    def->fingerprint = fmt::format("{:016x}{:016x}", h.high64, h.low64);
    def->rule_id = get_string(*rule, "rule_id");
    def->name = get_string(*rule, "name");
    if (def->rule_id.empty()) return error(rule_place, "rule.rule_id is missing");
    if (def->name.empty()) return error(rule_place, "rule.name is missing");
    if (const toml::node* enabled = rule->get("enabled")) {
        const auto on = enabled->value_exact<bool>();
        if (!on) return error(place_of(*enabled), "rule.enabled must be true or false");
        def->enabled = *on;
    }
    def->type = get_string(*rule, "type");
    if (!parse_rule_type(def->type, def->rule_type)) {
        RuleError e = error(rule_place, fmt::format("rule type \"{}\" is not supported; scanwatch runs "
                                                    "threshold, query, eql and new_terms rules",
                                                    def->type));
        e.unsupported = true;
        return e;
    }
    const std::string_view want = def->rule_type == RuleType::eql    ? "eql"
                                  : def->rule_type == RuleType::esql ? "esql"
                                                                     : "kuery";
    def->language = get_string(*rule, "language", std::string(want));
    if (def->language != want) {
        RuleError e = error(rule_place, fmt::format("query language \"{}\" is not supported for a {} "
                                                    "rule; use {}",
                                                    def->language, def->type, want));
        e.unsupported = true;
        return e;
    }
    def->description = get_string(*rule, "description");
    def->severity = get_string(*rule, "severity", "low");
    def->risk_score = get<std::int64_t>(*rule, "risk_score").value_or(21);
    def->version = get<std::int64_t>(*rule, "version").value_or(1);
    def->from_text = get_string(*rule, "from", "now-6m");
    def->interval_text = get_string(*rule, "interval", "5m");
    def->from_ms = parse_duration_ms(def->from_text);
    def->interval_ms = parse_duration_ms(def->interval_text);
    if (def->from_ms <= 0) {
        return error(rule_place, fmt::format("rule.from \"{}\" is not a duration like now-9m", def->from_text));
    }
    if (def->interval_ms <= 0) {
        return error(rule_place, fmt::format("rule.interval \"{}\" is not a duration like 5m", def->interval_text));
    }
    const auto max_signals = get<std::int64_t>(*rule, "max_signals").value_or(100);
    if (max_signals < 1) return error(rule_place, "rule.max_signals must be >= 1");
    def->max_signals = static_cast<std::uint64_t>(max_signals);
    if (const toml::array* tags = (*rule)["tags"].as_array()) {
        for (const auto& t : *tags) {
            if (auto s = t.value<std::string>()) def->tags.push_back(*s);
        }
    }
    def->threat = read_threat(*rule);

    const toml::node* query = rule->get("query");
    if (query == nullptr || !query->is_string()) return error(rule_place, "rule.query is missing");
    def->query_text = *query->value<std::string>();
    if (def->rule_type == RuleType::esql) {
        auto esql = load_esql(def->query_text);
        if (auto* e = std::get_if<QueryError>(&esql)) {
            const Place at = query_place(text_, place_of(*query), e->line, e->column);
            RuleError err = error(at, fmt::format("query: {}", e->message));
            err.unsupported = e->message.find("not supported") != std::string::npos;
            return err;
        }
        def->esql = std::get<std::shared_ptr<const esql::Pipeline>>(std::move(esql));
        def->unknown_fields = esql_unknown_fields(*def->esql);
        if (auto exceptions_error = read_exceptions(*rule, *def)) return *exceptions_error;
        return std::shared_ptr<const RuleDefinition>(std::move(def));
    }
    FieldCatalog catalog;
    auto parsed = parse_query(*def, catalog);
    if (auto* kql_error = std::get_if<QueryError>(&parsed)) {
        const Place at = query_place(text_, place_of(*query), kql_error->line, kql_error->column);
        RuleError e = error(at, fmt::format("query: {}", kql_error->message));
        // EQL the parser recognises but scanwatch does not run (sequences, pipes, functions)
        // says so; a syntax error does not.
        e.unsupported = def->rule_type == RuleType::eql &&
                        kql_error->message.find("not supported") != std::string::npos;
        return e;
    }
    def->query = std::get<Query>(std::move(parsed));
    if (def->rule_type == RuleType::threshold) {
        if (auto threshold_error = read_threshold(*rule, rule_place, *def, catalog)) {
            return *threshold_error;
        }
    } else if (def->rule_type == RuleType::new_terms) {
        if (auto new_terms_error = read_new_terms(*rule, rule_place, *def, catalog)) {
            return *new_terms_error;
        }
    }
    def->unknown_fields = catalog.unknown_fields();
    if (auto exceptions_error = read_exceptions(*rule, *def)) return *exceptions_error;
    return std::shared_ptr<const RuleDefinition>(std::move(def));
}

}  // namespace

bool parse_rule_type(std::string_view text, RuleType& out) {
    if (text == "threshold") {
        out = RuleType::threshold;
    } else if (text == "query") {
        out = RuleType::query;
    } else if (text == "eql") {
        out = RuleType::eql;
    } else if (text == "new_terms") {
        out = RuleType::new_terms;
    } else if (text == "esql") {
        out = RuleType::esql;
    } else {
        return false;
    }
    return true;
}

std::string RuleException::place() const {
    if (line <= 0) return source;
    return fmt::format("{}:{}", source, line);
}

bool RuleDefinition::reads(int field_id) const {
    const auto in = [field_id](const std::vector<int>& ids) {
        return std::find(ids.begin(), ids.end(), field_id) != ids.end();
    };
    if (in(query.field_ids()) || in(group_by_ids) || in(new_terms.field_ids)) return true;
    if (cardinality && cardinality->field_id == field_id) return true;
    return std::any_of(exceptions.begin(), exceptions.end(),
                       [&](const RuleException& e) { return in(e.query.field_ids()); });
}

bool RuleDefinition::excepted(const FieldAccessor& fields) const {
    for (const RuleException& e : exceptions) {
        if (e.query.matches(fields)) return true;
    }
    return false;
}

std::string RuleError::to_string() const {
    if (line <= 0) return fmt::format("{}: {}", source, message);
    return fmt::format("{}:{}:{}: {}", source, line, column, message);
}

std::int64_t parse_duration_ms(std::string_view text) {
    if (text.rfind("now-", 0) == 0) text.remove_prefix(4);
    if (text.size() < 2) return -1;
    const char unit = text.back();
    text.remove_suffix(1);
    std::int64_t n = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), n);
    if (res.ec != std::errc() || res.ptr != text.data() + text.size() || n <= 0) return -1;
    std::int64_t unit_ms = 0;
    switch (unit) {
        case 's': unit_ms = 1000; break;
        case 'm': unit_ms = 60 * 1000; break;
        case 'h': unit_ms = 3600 * 1000; break;
        case 'd': unit_ms = 86400 * 1000; break;
        default: return -1;
    }
    // Over the cap the product could overflow, and window arithmetic on event times with it.
    if (n > kMaxDurationMs / unit_ms) return -1;
    return n * unit_ms;
}

RuleResult load_rule(std::string_view toml_text, std::string_view source) {
    return Loader(toml_text, source).load();
}

}  // namespace scanwatch::rules
