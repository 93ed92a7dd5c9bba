#pragma once
// Kibana's ES|QL rule run on event time (docs/rules.md, "ES|QL"). Runs happen at every multiple of
// the rule's interval since the epoch, as the scheduled threshold mode's; a run at R runs the
// query over the rows of events in [R - from, R]. The commands before the first STATS, SORT or
// LIMIT work row by row and run as each event comes; their rows are buffered (at most
// max_rows(), the oldest dropped first and counted) until no later run can see them. Each
// result row of a run is an alert, at most max_signals per run (the rest counted as held back):
// an aggregating query's alert carries the row's columns, a non-aggregating query's the source
// event's fields and the row's, and a source event alerts once (Kibana deduplicates by _id).

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/engines/engine.h"
#include "rules/esql/source.h"

namespace scanwatch::rules {

/// Values one source field must have, ASCII case ignored, for a row of `pipeline` to pass its
/// row-by-row WHERE commands (`==`, IN, LIKE without wildcards, on the field or on its
/// TO_LOWER / TO_UPPER; AND keeps the most selective side, OR needs keys on every branch).
/// Only fields whose values are the same in every view are used (not event.action or
/// event.type, which the Endpoint views rename). False when no WHERE gives a finite set.
bool esql_index_keys(const esql::Pipeline& pipeline, std::vector<IndexKey>& keys);

class EsqlEngine final : public RuleEngine {
public:
    EsqlEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);

    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override;
    void finish(std::vector<Alert>& alerts) override;
    void advance(std::int64_t time_ms, std::vector<Alert>& alerts) override;
    /// Keyed on what the row-by-row WHERE commands require of a source field
    /// (esql_index_keys()); every event moves the schedule.
    EngineInterest interest() const override;
    void clock(std::int64_t time_ms, std::vector<Alert>& alerts) override;

    /// Rows buffered at most: --max-groups (10,000 by default).
    std::size_t max_rows() const { return max_rows_; }

    /// The schedule, and for an aggregating query the rows buffered ("engine": "esql"), for
    /// tail mode's state file. A non-aggregating query's rows need their source events, which
    /// are not saved: after a restart it starts with none (the events alerted on are kept).
    nlohmann::json save_state() const override;
    /// Restores what save_state() gave; false (and nothing changed) when it does not fit.
    bool restore_state(const nlohmann::json& state) override;
    std::uint64_t runs() const { return runs_; }
    /// Bytes the reused rows hold between events (at most about 64 KiB each).
    std::size_t scratch_bytes() const;

private:
    struct Buffered {
        std::int64_t time_ms = 0;
        esql::Row row;
        std::shared_ptr<const ProcessEvent> event;  // non-aggregating queries only
    };

    void run_due(std::int64_t before_ms, std::vector<Alert>& alerts);
    void run(std::int64_t run_ms, std::vector<Alert>& alerts);
    void drop_before(std::int64_t time_ms);

    esql_source::RowPlan plan_;
    // The first WHERE, when it can be tried on part of the row first: only MV_EXPANDs come
    // before it, and it reads plain columns. A row it does not keep (with each expanded
    // column single-valued, so that the expansion changes nothing) is dropped at that cost.
    const esql::Expr* precheck_ = nullptr;
    std::vector<std::size_t> precheck_columns_;  // positions in plan_.columns
    std::vector<std::string> precheck_expanded_;
    esql::Row precheck_row_;
    // Then the row-by-row commands run on one reused row while they keep it one row; only a
    // row they keep is built again and run for real (esql::run), so a dropped row costs no
    // allocation once the buffers have grown.
    esql::Row step_row_;  // both rows: given back after an event past 64 KiB (esql_engine.cpp)
    std::size_t max_rows_;
    std::int64_t next_run_ms_;
    std::int64_t watermark_ms_;
    std::uint64_t runs_ = 0;
    std::deque<Buffered> rows_;
    std::unordered_map<std::string, std::int64_t> alerted_;  // source event id -> its time
    std::vector<esql::Row> scratch_;
};

}  // namespace scanwatch::rules
