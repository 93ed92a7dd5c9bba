#include "rules/engines/esql/esql_engine.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <xxhash.h>

#include "rules/engines/group_table.h"

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

}  // namespace

EsqlEngine::EsqlEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : RuleEngine(std::move(rule), options),
      sources_(rule_->esql ? esql_source::sources_of(*rule_->esql) : esql_source::Sources{}),
      max_rows_(rows_cap(options_)),
      next_run_ms_(kNever),
      watermark_ms_(kNever) {}

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

void EsqlEngine::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    if (!rule_->esql) return;
    const std::int64_t t = std::clamp(event.time_ms, -kTimeLimit, kTimeLimit);
    if (next_run_ms_ == kNever) {
        next_run_ms_ = run_at_or_after(t, rule_->interval_ms);
    } else {
        run_due(t, alerts);
    }
    esql::Row row;
    if (!esql_source::source_row(*rule_->esql, sources_, event, options_.name_match, row)) return;
    if (!rule_->exceptions.empty() && rule_->excepted(EventFields(event, options_.name_match))) {
        ++counters_.excepted;
        return;
    }
    if (t < next_run_ms_ - rule_->from_ms) {
        ++counters_.late;
        return;
    }
    std::vector<esql::Row> rows;
    rows.push_back(std::move(row));
    esql::Limits limits;
    limits.max_rows = max_rows_;
    esql::EvalNotes notes;
    esql::run(*rule_->esql, 0, rule_->esql->row_prefix, rows, t, limits, notes);
    counters_.truncated += notes.rows_cut;
    if (rows.empty()) return;
    ++counters_.matched;
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

}  // namespace scanwatch::rules
