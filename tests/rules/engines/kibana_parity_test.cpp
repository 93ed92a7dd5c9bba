// The rows of docs/kibana-parity.md that say "same", each as a test that fails if scanwatch
// differed from Kibana's threshold executor, plus a reference model of that executor (an
// unbounded store of every event, searched at each run as Kibana's aggregation does) that the
// scheduled engine is compared with on adversarial streams.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "rules/engines/scheduled_engine.h"
#include "rules/engines/threshold_engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kRun0 = 5'666'667 * 5 * kMinute;  // a multiple of 5 minutes

std::shared_ptr<const RuleDefinition> load(const std::string& text) {
    auto r = load_rule(text, "test");
    REQUIRE(std::holds_alternative<std::shared_ptr<const RuleDefinition>>(r));
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}


std::shared_ptr<RuleDefinition> tuned(std::int64_t interval_ms, std::int64_t from_ms, std::uint64_t value,
                                      std::uint64_t cardinality, std::uint64_t max_signals) {
    auto r = std::make_shared<RuleDefinition>(*builtin());
    r->interval_ms = interval_ms;
    r->from_ms = from_ms;
    r->threshold_value = value;
    r->cardinality->value = cardinality;
    r->max_signals = max_signals;
    return r;
}

// Elastic's semantics (comm names, the rule's own grouping), so the model needs no profile.
EngineOptions options(Evaluation evaluation) {
    EngineOptions o;
    o.evaluation = evaluation;
    o.name_match = NameMatch::comm;
    o.session_grouping = false;
    o.max_groups = 1'000'000;
    return o;
}

ProcessEvent ping(std::int64_t time_ms, const std::string& target, const std::string& parent,
                  std::uint64_t serial) {
    ProcessEvent e;
    e.time_ms = time_ms;
    e.serial = serial;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.pid = 1000;
    e.ppid = 999;
    e.name = "ping";
    e.executable = "/usr/bin/ping";
    e.args = {"ping", target};
    e.args_count = 2;
    e.parent_entity_id = parent;
    e.user.id = "0";
    return e;
}

// n pings to distinct targets from `start`, one every `step` ms.
void sweep(RuleEngine& rule, std::vector<Alert>& alerts, int n, std::int64_t start, std::int64_t step,
           const std::string& parent = "P1", std::uint64_t serial0 = 1) {
    for (int i = 0; i < n; ++i) {
        rule.process(ping(start + i * step, "10.0.0." + std::to_string(i), parent,
                          serial0 + static_cast<std::uint64_t>(i)),
                     alerts);
    }
}

// Kibana's threshold executor over an index holding every event that arrived, unbounded:
// runs at multiples of the interval from the first event's (the engine's schedule); at a run R
// each group's bucket is its events in [R - from, R] later than the group's last signal
// (getThresholdBucketFilters); buckets with count >= value and distinct >= cardinality
// (build_threshold_aggregation.ts) sorted by terms, the first max_signals alert
// (findThresholdSignals); the alert's original_time is the bucket's max timestamp and becomes
// the group's last signal (bulk_create_threshold_signals.ts, build_signal_history.ts).
struct ModelAlert {
    std::int64_t time_ms;
    std::string parent;
    std::uint64_t count;
    std::uint64_t cardinality;
    std::int64_t from_ms;
    std::int64_t original_ms;
};

class KibanaModel {
public:
    KibanaModel(std::int64_t interval, std::int64_t from, std::uint64_t value, std::uint64_t card,
                std::uint64_t max_signals)
        : interval_(interval), from_(from), value_(value), card_(card), max_signals_(max_signals) {}

    void event(std::int64_t t, const std::string& parent, const std::string& target) {
        if (next_run_ == kNone) {
            next_run_ = ceil_to(t);
        } else {
            advance(t);
        }
        events_.push_back({t, parent, target});
        latest_ = std::max(latest_, t);
    }
    void advance(std::int64_t t) {
        if (next_run_ == kNone) return;
        for (; next_run_ < t; next_run_ += interval_) run(next_run_);
    }
    void finish() {
        if (next_run_ == kNone) return;
        for (; next_run_ - from_ <= latest_; next_run_ += interval_) run(next_run_);
    }
    std::vector<ModelAlert> alerts;

private:
    static constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();
    struct Event {
        std::int64_t t;
        std::string parent;
        std::string target;
    };
    struct Bucket {
        std::uint64_t count = 0;
        std::set<std::string> values;
        std::int64_t min_t = std::numeric_limits<std::int64_t>::max();
        std::int64_t max_t = std::numeric_limits<std::int64_t>::min();
    };
    std::int64_t ceil_to(std::int64_t t) const { return (t + interval_ - 1) / interval_ * interval_; }

    void run(std::int64_t r) {
        std::map<std::string, Bucket> buckets;  // ordered by terms, as the composite aggregation
        for (const Event& e : events_) {
            if (e.t < r - from_ || e.t > r) continue;
            const auto spent = last_signal_.find(e.parent);
            if (spent != last_signal_.end() && e.t <= spent->second) continue;
            Bucket& b = buckets[e.parent];
            ++b.count;
            b.values.insert("ping");
            b.values.insert(e.target);
            b.min_t = std::min(b.min_t, e.t);
            b.max_t = std::max(b.max_t, e.t);
        }
        std::uint64_t signals = 0;
        for (const auto& [parent, b] : buckets) {
            if (b.count < value_ || b.values.size() < card_) continue;
            if (signals++ >= max_signals_) break;
            alerts.push_back({r, parent, b.count, b.values.size(), b.min_t, b.max_t});
            last_signal_[parent] = b.max_t;
        }
        // Nothing before the next window can matter again.
        events_.erase(std::remove_if(events_.begin(), events_.end(),
                                     [&](const Event& e) { return e.t < r + interval_ - from_; }),
                      events_.end());
    }

    std::int64_t interval_, from_;
    std::uint64_t value_, card_, max_signals_;
    std::int64_t next_run_ = kNone;
    std::int64_t latest_ = std::numeric_limits<std::int64_t>::min();
    std::vector<Event> events_;
    std::map<std::string, std::int64_t> last_signal_;
};

std::string parent_of(const Alert& a) {
    for (const auto& [field, value] : a.terms) {
        if (field == "process.parent.entity_id") return value;
    }
    return {};
}

}  // namespace

// The reference model against the engine on random streams built to hit the value cap:
// bursts of >1500 distinct targets per group between two runs (the cap is 1200 for a
// cardinality of 300, compacted past 1500), values seen again, events out of order up to the
// look-back, max_signals 1 so held-back groups carry compacted values into later windows, and
// quiet periods where the timer advances event time. Every alert must agree: run time, group,
// count, from, original_time, and the cardinality wherever it is at most the cap (past it the
// engine reports a lower bound of at least the cap, never more than the truth).
TEST_CASE("Kibana parity: the scheduled engine gives the reference model's alerts, value cap included", "[parity][scheduled]") {
    constexpr std::int64_t interval = 10 * kSecond;
    constexpr std::int64_t from = 25 * kSecond;
    constexpr std::uint64_t value = 50, card = 300, max_signals = 1;
    auto rule = tuned(interval, from, value, card, max_signals);
    for (std::uint32_t seed = 1; seed <= 6; ++seed) {
        ScheduledEngine engine(rule, options(Evaluation::scheduled));
        REQUIRE(engine.value_cap() == 1200);
        KibanaModel model(interval, from, value, card, max_signals);
        std::mt19937_64 rng(seed);
        std::vector<Alert> alerts;
        std::int64_t now = kRun0 + static_cast<std::int64_t>(rng() % 10'000);
        std::uint64_t serial = 0;
        for (int burst = 0; burst < 40; ++burst) {
            const std::string parent = "P" + std::to_string(rng() % 4);
            const int n = static_cast<int>(rng() % 2500);
            const int pool = 1 + static_cast<int>(rng() % 4000);  // small pools repeat values
            for (int i = 0; i < n; ++i) {
                now += static_cast<std::int64_t>(rng() % 12);
                // Mostly in order; some events come late, up to the look-back.
                const std::int64_t t = rng() % 10 == 0 ? now - static_cast<std::int64_t>(rng() % from) : now;
                const std::string target = "10." + std::to_string(rng() % static_cast<std::uint64_t>(pool));
                engine.process(ping(t, target, parent, ++serial), alerts);
                model.event(t, parent, target);
            }
            if (rng() % 3 == 0) {  // the host goes quiet; the timer moves event time on
                now += static_cast<std::int64_t>(rng() % (3 * interval));
                engine.advance(now, alerts);
                model.advance(now);
            }
        }
        engine.finish(alerts);
        model.finish();
        INFO("seed " << seed);
        REQUIRE(alerts.size() == model.alerts.size());
        std::size_t past_cap = 0;
        for (std::size_t i = 0; i < alerts.size(); ++i) {
            const Alert& a = alerts[i];
            const ModelAlert& m = model.alerts[i];
            INFO("alert " << i);
            CHECK(a.time_ms == m.time_ms);
            CHECK(parent_of(a) == m.parent);
            CHECK(a.count == m.count);
            CHECK(a.from_ms == m.from_ms);
            CHECK(a.evidence.last_event.time_ms == m.original_ms);
            if (m.cardinality <= engine.value_cap()) {
                CHECK(a.cardinality == m.cardinality);
            } else {
                ++past_cap;
                CHECK(a.cardinality >= engine.value_cap());
                CHECK(a.cardinality <= m.cardinality);
            }
        }
        CHECK(past_cap > 0);  // the streams did reach the cap
        CHECK(alerts.size() > 5);
    }
}

// original_time: Kibana writes the bucket's max_timestamp as the source document's @timestamp
// (transformBucketIntoHit), buildAlertFields copies that into kibana.alert.original_time, and
// buildThresholdSignalHistory spends the group up to it.
TEST_CASE("Kibana parity: original_time is the latest event of the bucket, the time the group is spent to", "[parity]") {
    for (const Evaluation ev : {Evaluation::scheduled, Evaluation::streaming}) {
        auto engine = make_engine(builtin(), options(ev));
        std::vector<Alert> alerts;
        sweep(*engine, alerts, 120, kRun0 + kMinute, 500);
        engine->finish(alerts);
        REQUIRE(alerts.size() == 1);
        const Alert& a = alerts[0];
        const std::int64_t last = ev == Evaluation::scheduled ? kRun0 + kMinute + 119 * 500  // bucket's last
                                                             : kRun0 + kMinute + 98 * 500;  // the crossing (100th value)
        CHECK(a.evidence.last_event.time_ms == last);
        const std::string json = alert_to_json(a, 0);
        CHECK(json.find("\"kibana.alert.original_time\":\"" + scanwatch::format_timestamp(last) + "\"") !=
              std::string::npos);
        CHECK(json.find("\"from\":\"" + scanwatch::format_timestamp(kRun0 + kMinute) + "\"") !=
              std::string::npos);  // threshold_result.from: min_timestamp
        // Spent up to original_time: an event at that time is not counted again.
        sweep(*engine, alerts, 200, last, 0, "P1", 1000);
        CHECK(engine->counters().spent == 200);
    }
}

// value: count_check is docCount >= value; cardinality: cardinality_check is >= the value, over
// every value of a multi-valued field (build_threshold_aggregation.ts).
TEST_CASE("Kibana parity: value and cardinality are at-least thresholds over every value", "[parity]") {
    for (const Evaluation ev : {Evaluation::scheduled, Evaluation::streaming}) {
        for (const std::uint64_t card : {98u, 99u}) {
            auto rule = tuned(5 * kMinute, 9 * kMinute, 10, card, 100);
            auto engine = make_engine(rule, options(ev));
            std::vector<Alert> alerts;
            sweep(*engine, alerts, 97, kRun0 + kMinute, 10);  // 97 targets + "ping" = 98 values
            engine->finish(alerts);
            CHECK(alerts.size() == (card <= 98 ? 1u : 0u));
            if (!alerts.empty()) CHECK(alerts[0].cardinality == 98);  // args[0] "ping" counts too
        }
        for (const std::uint64_t value : {97u, 98u}) {
            auto rule = tuned(5 * kMinute, 9 * kMinute, value, 1, 100);
            auto engine = make_engine(rule, options(ev));
            std::vector<Alert> alerts;
            sweep(*engine, alerts, 97, kRun0 + kMinute, 10);
            engine->finish(alerts);
            CHECK(alerts.size() == (value <= 97 ? 1u : 0u));
        }
    }
}

// Missing fields: the composite aggregation's terms sources have no missing_bucket, so an event
// without a group-by field is in no bucket. Exceptions: a must_not filter in the search
// (buildExceptionFilter), so an excepted event counts nowhere.
TEST_CASE("Kibana parity: events missing a group-by field or excepted count in no bucket", "[parity]") {
    std::string text(builtin_rule_text());
    text += "\n[[rule.exceptions]]\ndescription = \"t\"\nquery = 'process.parent.entity_id:\"PX\"'\n";
    const auto rule = load(text);
    for (const Evaluation ev : {Evaluation::scheduled, Evaluation::streaming}) {
        auto engine = make_engine(rule, options(ev));
        std::vector<Alert> alerts;
        sweep(*engine, alerts, 150, kRun0 + kMinute, 10, "PX");
        sweep(*engine, alerts, 150, kRun0 + kMinute, 10, "", 500);
        engine->finish(alerts);
        CHECK(alerts.empty());
        CHECK(engine->counters().excepted == 150);
        CHECK(engine->counters().missing_group_field == 150);
    }
}

// max_signals: the composite aggregation pages buckets in ascending order of their terms, by
// bytes (keyword terms), and findThresholdSignals keeps the first max_signals.
TEST_CASE("Kibana parity: max_signals keeps the first buckets by terms in byte order", "[parity][scheduled]") {
    auto rule = tuned(5 * kMinute, 9 * kMinute, 100, 100, 1);
    ScheduledEngine engine(rule, options(Evaluation::scheduled));
    std::vector<Alert> alerts;
    sweep(engine, alerts, 120, kRun0 + kMinute, 10, "\xc3\xa9");  // "é": bytes above ASCII
    sweep(engine, alerts, 120, kRun0 + kMinute + 5, 10, "z", 500);
    engine.advance(kRun0 + 5 * kMinute + 1, alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(parent_of(alerts[0]) == "z");  // 0x7a before 0xc3, as unsigned bytes
    CHECK(engine.counters().held_back == 1);
    // Held back, it made no alert and has no signal history: the next run alerts on it.
    engine.advance(kRun0 + 10 * kMinute + 1, alerts);
    REQUIRE(alerts.size() == 2);
    CHECK(parent_of(alerts[1]) == "\xc3\xa9");
}

// from and interval: a run at R searches [R - from, R], both ends included (buildTimeRangeFilter:
// gte and lte), and the alert's @timestamp is the run's.
TEST_CASE("Kibana parity: the window of a run includes both ends; the alert's time is the run's", "[parity][scheduled]") {
    const std::int64_t run = kRun0 + 10 * kMinute;
    for (const std::int64_t shift : {0, -1}) {
        ScheduledEngine engine(builtin(), options(Evaluation::scheduled));
        std::vector<Alert> alerts;
        // One event exactly at R - from (or 1 ms before it), 99 more ending exactly at R.
        engine.process(ping(run - 9 * kMinute + shift, "first", "P1", 1), alerts);
        sweep(engine, alerts, 99, run - 98, 1, "P1", 2);  // the last at R
        engine.advance(run + 1, alerts);
        REQUIRE(alerts.size() == 1);  // 99 targets + "ping" (+ "first") >= 100
        CHECK(alerts[0].time_ms == run);
        CHECK(alerts[0].count == (shift == 0 ? 100u : 99u));
    }
}

// No group-by fields: Kibana searches one bucket of every matching event
// (buildThresholdSingleBucketAggregation in findThresholdSignals) and its terms are empty.
TEST_CASE("Kibana parity: a rule without group-by fields counts every event in one bucket", "[parity]") {
    std::string text(builtin_rule_text());
    const std::string fields = "field = [\"host.id\", \"process.parent.entity_id\", \"process.executable\"]\n";
    REQUIRE(text.find(fields) != std::string::npos);
    text.erase(text.find(fields), fields.size());
    const auto rule = load(text);
    REQUIRE(rule->group_by.empty());
    for (const Evaluation ev : {Evaluation::scheduled, Evaluation::streaming}) {
        auto engine = make_engine(rule, options(ev));
        std::vector<Alert> alerts;
        for (int i = 0; i < 120; ++i) {  // two parents, two hosts: one bucket all the same
            ProcessEvent e = ping(kRun0 + kMinute + i * 10, "10.0.0." + std::to_string(i),
                                  i % 2 ? "P1" : "P2", static_cast<std::uint64_t>(i + 1));
            e.host_id = i % 3 ? "h1" : "h2";
            engine->process(e, alerts);
        }
        engine->finish(alerts);
        REQUIRE(alerts.size() == 1);
        CHECK(alerts[0].terms.empty());
        CHECK(alerts[0].count == (ev == Evaluation::scheduled ? 120u : 99u));
        CHECK(alert_to_json(alerts[0], 0).find("\"terms\":[]") != std::string::npos);
    }
}
