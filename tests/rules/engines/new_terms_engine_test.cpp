#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engines/new_terms_engine.h"
#include "rules/rule_check.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

std::shared_ptr<const RuleDefinition> new_terms_rule(const std::string& fields = R"("process.executable")",
                                                     const std::string& extra = "") {
    const std::string text =
        "[rule]\nrule_id = \"nt\"\nname = \"New exec\"\ntype = \"new_terms\"\nlanguage = \"kuery\"\n"
        "query = 'event.category:process'\n" + extra +
        "[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [" + fields +
        "]\n[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\n"
        "value = \"now-2d\"\n";
    auto r = load_rule(text, "nt.toml");
    if (auto* e = std::get_if<RuleError>(&r)) FAIL(e->to_string());
    return std::get<std::shared_ptr<const RuleDefinition>>(r);
}

ProcessEvent exec(std::int64_t time_ms, const std::string& exe, const std::string& user = "0",
                  std::uint64_t serial = 1) {
    ProcessEvent e;
    e.time_ms = time_ms;
    e.serial = serial;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.name = exe.substr(exe.rfind('/') + 1);
    e.executable = exe;
    e.args = {e.name};
    e.args_count = 1;
    e.user.id = user;
    return e;
}

std::size_t feed(NewTermsEngine& rule, const std::vector<ProcessEvent>& events) {
    std::vector<Alert> alerts;
    for (const auto& e : events) rule.process(e, alerts);
    return alerts.size();
}

}  // namespace

TEST_CASE("New terms: a value alerts when first seen, not again within the history window",
          "[new_terms]") {
    const auto rule = new_terms_rule();
    REQUIRE(rule->rule_type == RuleType::new_terms);
    REQUIRE(rule->new_terms.history_window_ms == 2 * kDay);
    NewTermsEngine engine(rule, {});
    std::vector<Alert> alerts;
    engine.process(exec(kT0, "/tmp/x"), alerts);
    engine.process(exec(kT0 + 1000, "/tmp/x"), alerts);
    engine.process(exec(kT0 + kDay, "/tmp/x"), alerts);  // seen a day ago: not new
    engine.process(exec(kT0 + kDay, "/tmp/y"), alerts);
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].terms == std::vector<std::pair<std::string, std::string>>{{"process.executable", "/tmp/x"}});
    const auto j = nlohmann::json::parse(alert_to_json(alerts[1], 0));
    CHECK(j["kibana.alert.rule.type"] == "new_terms");
    CHECK(j["kibana.alert.new_terms"] == nlohmann::json::array({"/tmp/y"}));
    // Not seen for longer than the history window: new again.
    engine.process(exec(kT0 + kDay + 2 * kDay + 1, "/tmp/x"), alerts);
    CHECK(alerts.size() == 3);
}

TEST_CASE("New terms: several fields make one combination", "[new_terms]") {
    NewTermsEngine engine(new_terms_rule(R"("process.executable", "user.id")"), {});
    CHECK(feed(engine, {exec(kT0, "/bin/a", "0"), exec(kT0 + 1, "/bin/a", "1000"),
                        exec(kT0 + 2, "/bin/a", "0"), exec(kT0 + 3, "/bin/b", "0")}) == 3);
}

TEST_CASE("New terms: an event without a new_terms field is counted, never new", "[new_terms]") {
    NewTermsEngine engine(new_terms_rule(R"("process.parent.executable")"), {});
    CHECK(feed(engine, {exec(kT0, "/bin/a")}) == 0);
    CHECK(engine.counters().missing_group_field == 1);
}

TEST_CASE("New terms: the history is bounded, the least recently seen evicted and counted",
          "[new_terms]") {
    EngineOptions options;
    options.max_groups = 2;
    NewTermsEngine engine(new_terms_rule(), options);
    CHECK(feed(engine, {exec(kT0, "/bin/a"), exec(kT0 + 1, "/bin/b"), exec(kT0 + 2, "/bin/a"),
                        exec(kT0 + 3, "/bin/c")}) == 3);  // c evicts b (a was seen later)
    CHECK(engine.counters().groups == 2);
    CHECK(engine.counters().groups_evicted == 1);
    CHECK(feed(engine, {exec(kT0 + 4, "/bin/a")}) == 0);
    CHECK(feed(engine, {exec(kT0 + 5, "/bin/b")}) == 1);  // forgotten: new again
}

TEST_CASE("New terms: the history survives save and restore (tail's state file)", "[new_terms]") {
    const auto rule = new_terms_rule();
    NewTermsEngine first(rule, {});
    CHECK(feed(first, {exec(kT0, "/bin/a"), exec(kT0 + 1, "/bin/b")}) == 2);
    const nlohmann::json saved = first.save_state();
    NewTermsEngine second(rule, {});
    REQUIRE(second.restore_state(nlohmann::json::parse(saved.dump())));
    CHECK(feed(second, {exec(kT0 + 2, "/bin/a"), exec(kT0 + 3, "/bin/b")}) == 0);
    CHECK(feed(second, {exec(kT0 + 4, "/bin/c")}) == 1);

    EngineOptions small;
    small.max_groups = 1;
    NewTermsEngine third(rule, small);  // a smaller bound keeps the most recently seen
    REQUIRE(third.restore_state(saved));
    CHECK(third.counters().groups == 1);
    CHECK(feed(third, {exec(kT0 + 5, "/bin/b")}) == 0);

    NewTermsEngine fourth(rule, {});
    nlohmann::json twice = saved;
    twice["terms"].push_back(twice["terms"][0]);
    CHECK_FALSE(fourth.restore_state(twice));
    CHECK(feed(fourth, {exec(kT0, "/bin/a")}) == 1);  // refused: started empty
}

TEST_CASE("New terms: rules check names a new_terms field scanwatch lacks", "[new_terms]") {
    const auto rule = new_terms_rule(R"("file.path")");
    const auto reasons = cannot_fire_reasons(*rule);
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].find("file.path") != std::string::npos);
}
