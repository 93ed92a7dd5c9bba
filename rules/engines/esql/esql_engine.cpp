#include "rules/engines/esql/esql_engine.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/engine_state.h"
#include "rules/engines/group_table.h"
#include "rules/engines/index_keys.h"

namespace scanwatch::rules {
namespace {

using detail::kNever;
constexpr std::int64_t kTimeLimit = std::int64_t{1} << 60;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t run_at_or_after(std::int64_t t, std::int64_t interval_ms) {
    return -floor_div(-t, interval_ms) * interval_ms;
}

// A row is about 1 KB (the columns the query reads, names included): --max-groups rows, ~10 MB
// per rule by default.
std::size_t rows_cap(const EngineOptions& options) {
    return std::max<std::size_t>(options.max_groups, 1);
}

// A deterministic alert id: the rule, the run and the row's text.
std::string row_uuid(const RuleDefinition& rule, std::int64_t run_ms, const esql::Row& row,
                     const std::string& source_id) {
    std::string material = fmt::format("{}\0{}\0{}", rule.rule_id, run_ms, source_id);
    for (const auto& [name, value] : row.columns) {
        material += '\0';
        material += name;
        for (const auto& s : value.items) {
            material += '\1';
            material += esql::to_text(s);
        }
    }
    const XXH128_hash_t h = XXH3_128bits(material.data(), material.size());
    return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

// A field's place among the index's fields (index_fields(), most selective first), or -1 where
// an ES|QL key cannot be on it: not indexed, or event.action and event.type, which differ
// between views.
int key_rank(std::string_view field) {
    if (field == "event.action" || field == "event.type") return -1;
    const int id = FieldCatalog::known_id(field);
    const auto& fields = index_fields();
    const auto it = std::find(fields.begin(), fields.end(), id);
    return id < 0 || it == fields.end() ? -1 : static_cast<int>(it - fields.begin());
}

struct KeyDeriver {
    // Columns computed before the WHERE (EVAL, RENAME, STATS): not source fields.
    const std::vector<std::string>& computed;
    const esql_source::Sources& sources;

    // The source field a predicate's operand reads, ASCII case aside: a column, or TO_LOWER /
    // TO_UPPER of one; empty when it is neither or not a key field.
    std::string_view field_of(const esql::Expr& e) const {
        using K = esql::Expr::Kind;
        const esql::Expr* col = &e;
        if (e.kind == K::call && (e.name == "TO_LOWER" || e.name == "TO_UPPER") && e.args.size() == 1) {
            col = &e.args[0];
        }
        if (col->kind != K::column || key_rank(col->name) < 0) return {};
        if (std::find(computed.begin(), computed.end(), col->name) != computed.end()) return {};
        return col->name;
    }

    static bool literal_text(const esql::Expr& e, std::string& out) {
        if (e.kind != esql::Expr::Kind::literal) return false;
        const esql::Scalar* s = e.value.single();
        if (s == nullptr) return false;
        if (const auto* text = std::get_if<std::string>(s)) {
            out = *text;
            return true;
        }
        if (const auto* n = std::get_if<std::int64_t>(s)) {
            out = std::to_string(*n);
            return true;
        }
        return false;
    }

    // True when every row the condition is true on has, for one of the keys appended, that
    // value (ASCII case ignored) among its field's values.
    bool keys(const esql::Expr& e, std::vector<IndexKey>& out) const {
        using K = esql::Expr::Kind;
        if (e.kind == K::binary && e.op == "and") {
            std::vector<IndexKey> left;
            std::vector<IndexKey> right;
            const bool l = keys(e.args[0], left);
            const bool r = keys(e.args[1], right);
            if (!l && !r) return false;
            const auto weaker = [](const std::vector<IndexKey>& a, const std::vector<IndexKey>& b) {
                // The side on the more selective field, then the one with fewer values.
                const auto rank = [](const std::vector<IndexKey>& k) {
                    int worst = 0;
                    for (const IndexKey& key : k) worst = std::max(worst, key_rank(FieldCatalog::name_of(key.field_id)));
                    return worst;
                };
                return std::make_pair(rank(a), a.size()) > std::make_pair(rank(b), b.size());
            };
            const std::vector<IndexKey>& best = !l ? right : !r ? left : weaker(left, right) ? right : left;
            out.insert(out.end(), best.begin(), best.end());
            return true;
        }
        if (e.kind == K::call && e.name == "KQL" && e.kql != nullptr && e.kql->expr() != nullptr) {
            // KQL("..."): its tree's field ids are the call's own (e.patterns names them).
            const auto field_of = [&](int id) {
                if (id < 0 || static_cast<std::size_t>(id) >= e.patterns.size()) return -1;
                const std::string& name = e.patterns[static_cast<std::size_t>(id)];
                if (key_rank(name) < 0) return -1;
                if (std::find(computed.begin(), computed.end(), name) != computed.end()) return -1;
                return FieldCatalog::known_id(name);
            };
            return required_keys(*e.kql->expr(), out, field_of);
        }
        if (e.kind == K::binary && e.op == "or") {
            // A branch true on none of scanwatch's rows (another data set's) needs no key.
            for (const esql::Expr& branch : e.args) {
                if (!esql_source::never_true(branch, sources, computed) && !keys(branch, out)) return false;
            }
            return true;
        }
        std::string value;
        if (e.kind == K::binary && e.op == "==" && e.args.size() == 2) {
            for (int side = 0; side < 2; ++side) {
                const std::string_view field = field_of(e.args[side]);
                if (!field.empty() && literal_text(e.args[1 - side], value)) {
                    out.push_back(IndexKey{FieldCatalog::known_id(field), lowered(value)});
                    return true;
                }
            }
            return false;
        }
        if (e.kind == K::in && !e.negated && e.args.size() >= 2) {
            const std::string_view field = field_of(e.args[0]);
            if (field.empty()) return false;
            const int id = FieldCatalog::known_id(field);
            std::vector<IndexKey> mine;
            for (std::size_t i = 1; i < e.args.size(); ++i) {
                if (!literal_text(e.args[i], value)) return false;
                mine.push_back(IndexKey{id, lowered(value)});
            }
            out.insert(out.end(), mine.begin(), mine.end());
            return true;
        }
        if (e.kind == K::like && !e.negated && !e.patterns.empty() && !e.args.empty()) {
            const std::string_view field = field_of(e.args[0]);
            if (field.empty()) return false;
            const int id = FieldCatalog::known_id(field);
            std::vector<IndexKey> mine;
            for (const std::string& p : e.patterns) {
                // A pattern with a wildcard or an escape is no literal value.
                if (p.find_first_of("*?\\") != std::string::npos) return false;
                mine.push_back(IndexKey{id, lowered(p)});
            }
            out.insert(out.end(), mine.begin(), mine.end());
            return true;
        }
        return false;
    }
};

}  // namespace

bool esql_index_keys(const esql::Pipeline& p, std::vector<IndexKey>& keys) {
    const esql_source::Sources sources = esql_source::sources_of(p);
    std::vector<std::string> computed;
    bool found = false;
    std::vector<IndexKey> best;
    for (std::size_t i = 0; i < p.row_prefix && i < p.commands.size(); ++i) {
        const esql::Command& c = p.commands[i];
        if (c.kind == esql::Command::Kind::where) {
            std::vector<IndexKey> mine;
            if (esql_source::never_true(c.condition, sources, computed)) {
                // No row passes: no event needs the rule, only its schedule moves.
                return true;
            }
            if (KeyDeriver{computed, sources}.keys(c.condition, mine) && (!found || mine.size() < best.size())) {
                best = std::move(mine);
                found = true;
            }
        }
        for (const auto& a : c.assignments) computed.push_back(a.name);
        for (const auto& r : c.renames) computed.push_back(r.second);
    }
    if (found) keys.insert(keys.end(), best.begin(), best.end());
    return found;
}

EngineInterest EsqlEngine::interest() const {
    EngineInterest i;
    if (!rule_->esql || !esql_index_keys(*rule_->esql, i.keys)) return i;
    i.kind = EngineInterest::Kind::keyed;
    i.clocked = true;
    return i;
}

EsqlEngine::EsqlEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : RuleEngine(std::move(rule), options),
      plan_(rule_->esql ? esql_source::row_plan(*rule_->esql, esql_source::sources_of(*rule_->esql))
                        : esql_source::RowPlan{}),
      max_rows_(rows_cap(options_)),
      next_run_ms_(kNever),
      watermark_ms_(kNever) {
    if (!rule_->esql) return;
    const esql::Pipeline& p = *rule_->esql;
    std::vector<std::string> reads;
    for (std::size_t i = 0; i < p.row_prefix && i < p.commands.size(); ++i) {
        const esql::Command& c = p.commands[i];
        if (c.kind == esql::Command::Kind::mv_expand && c.names.size() == 1) {
            precheck_expanded_.push_back(c.names[0]);
            reads.push_back(c.names[0]);
            continue;
        }
        if (c.kind == esql::Command::Kind::where && esql::columns_read(c.condition, reads)) {
            precheck_ = &c.condition;
        }
        break;
    }
    if (precheck_ == nullptr) return;
    for (std::size_t i = 0; i < plan_.columns.size(); ++i) {
        if (std::find(reads.begin(), reads.end(), plan_.columns[i].name) != reads.end()) {
            precheck_columns_.push_back(i);
        }
    }
}

void EsqlEngine::drop_before(std::int64_t time_ms) {
    // Rows come in event order but for stragglers: drop from the front while old, then sweep.
    while (!rows_.empty() && rows_.front().time_ms < time_ms) rows_.pop_front();
    if (std::any_of(rows_.begin(), rows_.end(), [time_ms](const Buffered& b) { return b.time_ms < time_ms; })) {
        rows_.erase(std::remove_if(rows_.begin(), rows_.end(),
                                   [time_ms](const Buffered& b) { return b.time_ms < time_ms; }),
                    rows_.end());
    }
    for (auto it = alerted_.begin(); it != alerted_.end();) {
        it = it->second < time_ms ? alerted_.erase(it) : std::next(it);
    }
    counters_.groups = rows_.size();
}

void EsqlEngine::run(std::int64_t run_ms, std::vector<Alert>& alerts) {
    ++runs_;
    const esql::Pipeline& p = *rule_->esql;
    const std::int64_t window_start = run_ms - rule_->from_ms;
    // The rows of the window, tagged with their buffer position so a non-aggregating result
    // row finds its source event.
    scratch_.clear();
    std::vector<const Buffered*> sources;
    for (const Buffered& b : rows_) {
        if (b.time_ms < window_start || b.time_ms > run_ms) continue;
        if (!p.aggregating && b.event && alerted_.count(b.event->event_id()) != 0) continue;
        scratch_.push_back(b.row);
        if (!p.aggregating) {
            scratch_.back().columns.emplace_back("$source", esql::Value(esql::Scalar(static_cast<std::int64_t>(sources.size()))));
            sources.push_back(&b);
        }
    }
    esql::Limits limits;
    limits.max_rows = max_rows_;
    esql::EvalNotes notes;
    esql::run(p, p.row_prefix, p.commands.size(), scratch_, run_ms, limits, notes);
    counters_.truncated += notes.rows_cut;
    std::uint64_t signals = 0;
    for (esql::Row& row : scratch_) {
        std::shared_ptr<const ProcessEvent> event;
        if (!p.aggregating) {
            const esql::Value* src = row.find("$source");
            const auto* index = src != nullptr && src->single() ? std::get_if<std::int64_t>(src->single()) : nullptr;
            if (index != nullptr && *index >= 0 && static_cast<std::size_t>(*index) < sources.size()) {
                event = sources[static_cast<std::size_t>(*index)]->event;
            }
            row.erase("$source");
            // A KEEP or DROP may have removed the tag: such a row has no source event.
            if (event && alerted_.count(event->event_id()) != 0) continue;
        }
        if (signals >= rule_->max_signals) {
            ++counters_.held_back;
            continue;
        }
        ++signals;
        ++counters_.alerts;
        Alert a;
        a.rule = rule_;
        a.time_ms = run_ms;
        a.from_ms = window_start;
        a.event = event;
        if (event) {
            a.host_name = event->host_name;
            a.evidence.last_event = EventRef{event->event_id(), event->time_ms};
            alerted_.emplace(event->event_id(), event->time_ms);
        }
        a.uuid = row_uuid(*rule_, run_ms, row, event ? event->event_id() : std::string());
        a.esql_row = std::make_shared<const esql::Row>(std::move(row));
        alerts.push_back(std::move(a));
    }
    scratch_.clear();
    drop_before(run_ms + rule_->interval_ms - rule_->from_ms);
}

void EsqlEngine::run_due(std::int64_t before_ms, std::vector<Alert>& alerts) {
    while (next_run_ms_ < before_ms) {
        if (watermark_ms_ == kNever || next_run_ms_ - rule_->from_ms > watermark_ms_) {
            next_run_ms_ = std::max(next_run_ms_, run_at_or_after(before_ms, rule_->interval_ms));
            drop_before(next_run_ms_ - rule_->from_ms);
            return;
        }
        run(next_run_ms_, alerts);
        next_run_ms_ += rule_->interval_ms;
    }
}

void EsqlEngine::clock(std::int64_t time_ms, std::vector<Alert>& alerts) {
    if (!rule_->esql) return;
    const std::int64_t t = std::clamp(time_ms, -kTimeLimit, kTimeLimit);
    if (next_run_ms_ == kNever) {
        next_run_ms_ = run_at_or_after(t, rule_->interval_ms);
    } else {
        run_due(t, alerts);
    }
}

namespace {

// The reused rows keep the storage of the largest event they held; one of an exec with a
// megabyte of arguments is given back rather than kept for the life of the rule.
constexpr std::size_t kKeptRowBytes = 64 << 10;

std::size_t row_bytes(const esql::Row& row) {
    std::size_t bytes = 0;
    for (const auto& [name, value] : row.columns) {
        bytes += name.capacity() + value.items.capacity() * sizeof(esql::Scalar);
        for (const esql::Scalar& s : value.items) {
            if (const auto* text = std::get_if<std::string>(&s)) bytes += text->capacity();
        }
    }
    return bytes;
}

void release_if_large(esql::Row& row) {
    if (row_bytes(row) > kKeptRowBytes) row = esql::Row{};
}

}  // namespace

std::size_t EsqlEngine::scratch_bytes() const { return row_bytes(precheck_row_) + row_bytes(step_row_); }

void EsqlEngine::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    if (!rule_->esql) return;
    struct Release {
        EsqlEngine& engine;
        ~Release() {
            release_if_large(engine.precheck_row_);
            release_if_large(engine.step_row_);
        }
    } release{*this};
    clock(event.time_ms, alerts);
    const std::int64_t t = std::clamp(event.time_ms, -kTimeLimit, kTimeLimit);
    if (precheck_ != nullptr) {
        if (!esql_source::source_row(plan_, event, precheck_row_, &precheck_columns_)) return;
        const bool single = std::all_of(precheck_expanded_.begin(), precheck_expanded_.end(), [&](const std::string& name) {
            const esql::Value* v = precheck_row_.find(name);
            return v == nullptr || v->items.size() <= 1;
        });
        if (single && !esql::keeps(*precheck_, precheck_row_, t)) return;
    }
    if (!esql_source::source_row(plan_, event, step_row_)) return;
    for (std::size_t i = 0; i < rule_->esql->row_prefix; ++i) {
        const esql::Step step = esql::run_in_place(rule_->esql->commands[i], step_row_, t);
        if (step == esql::Step::dropped) return;
        if (step == esql::Step::unsupported) break;
    }
    std::vector<esql::Row> rows(1);
    if (!esql_source::source_row(plan_, event, rows[0])) return;
    esql::Limits limits;
    limits.max_rows = max_rows_;
    esql::EvalNotes notes;
    esql::run(*rule_->esql, 0, rule_->esql->row_prefix, rows, t, limits, notes);
    counters_.truncated += notes.rows_cut;
    if (rows.empty()) return;
    // As the other engines count: matched, and of those excepted or late.
    ++counters_.matched;
    if (!rule_->exceptions.empty() && rule_->excepted(EventFields(event, options_.name_match))) {
        ++counters_.excepted;
        return;
    }
    if (t < next_run_ms_ - rule_->from_ms) {
        ++counters_.late;
        return;
    }
    std::shared_ptr<const ProcessEvent> shared;
    if (!rule_->esql->aggregating) shared = std::make_shared<const ProcessEvent>(event);
    for (esql::Row& r : rows) {
        if (rows_.size() >= max_rows_) {
            rows_.pop_front();
            ++counters_.groups_evicted;
        }
        rows_.push_back(Buffered{t, std::move(r), shared});
    }
    counters_.groups = rows_.size();
    watermark_ms_ = std::max(watermark_ms_, t);
}

void EsqlEngine::advance(std::int64_t time_ms, std::vector<Alert>& alerts) {
    if (next_run_ms_ == kNever) return;
    run_due(std::clamp(time_ms, -kTimeLimit, kTimeLimit), alerts);
}

void EsqlEngine::finish(std::vector<Alert>& alerts) {
    if (next_run_ms_ == kNever || watermark_ms_ == kNever) return;
    while (!rows_.empty() && next_run_ms_ - rule_->from_ms <= watermark_ms_) {
        run(next_run_ms_, alerts);
        next_run_ms_ += rule_->interval_ms;
    }
}

namespace {

// A value as JSON: [[type, value], ...]; strings in hex (they are bytes).
nlohmann::json save_value(const esql::Value& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const esql::Scalar& s : v.items) {
        if (const auto* b = std::get_if<bool>(&s)) out.push_back({"b", *b});
        else if (const auto* i = std::get_if<std::int64_t>(&s)) out.push_back({"l", *i});
        else if (const auto* d = std::get_if<double>(&s)) out.push_back({"d", *d});
        else if (const auto* t = std::get_if<std::string>(&s)) out.push_back({"s", detail::hex(*t)});
        else if (const auto* date = std::get_if<esql::Date>(&s)) out.push_back({"t", date->ms});
        else out.push_back({"p", std::get<esql::Span>(s).ms});
    }
    return out;
}

esql::Value restore_value(const nlohmann::json& j) {
    esql::Value v;
    for (const auto& item : j) {
        const std::string type = item.at(0).get<std::string>();
        const auto& x = item.at(1);
        if (type == "b") v.items.emplace_back(x.get<bool>());
        else if (type == "l") v.items.emplace_back(detail::get_int64(x));
        else if (type == "d" && x.is_number_float()) v.items.emplace_back(x.get<double>());
        else if (type == "s") v.items.emplace_back(detail::unhex(x.get<std::string>()));
        else if (type == "t") v.items.emplace_back(esql::Date{detail::get_int64(x)});
        else if (type == "p") v.items.emplace_back(esql::Span{detail::get_int64(x)});
        else throw std::invalid_argument("bad value type");
    }
    return v;
}

}  // namespace

nlohmann::json EsqlEngine::save_state() const {
    nlohmann::json rows = nlohmann::json::array();
    if (rule_->esql && rule_->esql->aggregating) {
        for (const Buffered& b : rows_) {
            nlohmann::json cols = nlohmann::json::array();
            for (const auto& [name, value] : b.row.columns) cols.push_back({detail::hex(name), save_value(value)});
            rows.push_back({b.time_ms, std::move(cols)});
        }
    }
    nlohmann::json alerted = nlohmann::json::array();
    for (const auto& [id, time] : alerted_) alerted.push_back({id, time});
    return {{"engine", "esql"}, {"next_run_ms", next_run_ms_}, {"watermark_ms", watermark_ms_},
            {"rows", std::move(rows)}, {"alerted", std::move(alerted)}};
}

bool EsqlEngine::restore_state(const nlohmann::json& state) {
    return detail::restore_engine(state, "esql", [&] {
        std::deque<Buffered> rows;
        const auto& saved = state.at("rows");
        if (!saved.is_array() || saved.size() > max_rows_) return false;
        for (const auto& r : saved) {
            Buffered b;
            b.time_ms = detail::get_int64(r.at(0));
            for (const auto& col : r.at(1)) {
                b.row.columns.emplace_back(detail::unhex(col.at(0).get<std::string>()), restore_value(col.at(1)));
            }
            rows.push_back(std::move(b));
        }
        std::unordered_map<std::string, std::int64_t> alerted;
        for (const auto& a : state.at("alerted")) alerted.emplace(a.at(0).get<std::string>(), detail::get_int64(a.at(1)));
        next_run_ms_ = detail::get_int64(state.at("next_run_ms"));
        watermark_ms_ = detail::get_int64(state.at("watermark_ms"));
        rows_ = std::move(rows);
        alerted_ = std::move(alerted);
        counters_.groups = rows_.size();
        return true;
    });
}

}  // namespace scanwatch::rules
