#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/query/match.h"
#include "tests/rules/query/eql_test_support.h"
#include "tests/rules/query/kql_test_support.h"

// Issue 21, item 6: against execs carrying 1 MiB of arguments, `process.args:?*a{3000}b` cost
// 0.8 s per exec, a 6,000-value list searched linearly 0.8 s, 15 regexes of ~600 alternatives
// 0.4 s. Every query now has a work bound per event, and long literal lists are a hash set.

namespace {

using Clock = std::chrono::steady_clock;

// 1,024 arguments of 1 KiB of 'a': 1 MiB.
kql_test::Event mib_of_args() {
    kql_test::Event e;
    e["process.name"] = {"ping"};
    e["process.args"] = std::vector<std::string>(1024, std::string(1024, 'a'));
    return e;
}

}  // namespace

TEST_CASE("Match work: a costly wildcard on 1 MiB of arguments is cut, counted, and no match",
          "[match-work]") {
    const auto query = kql_test::must_parse("process.args:*a*" + std::string(3000, 'a') + "b");
    const auto event = mib_of_args();
    bool cut = false;
    const auto start = Clock::now();
    CHECK_FALSE(query.matches(kql_test::MapAccessor(event), cut));
    CHECK(Clock::now() - start < std::chrono::seconds(1));  // was ~3 s (0.8 s in the case)
    CHECK(cut);

    // Cut under a `not`: still no match (the unfinished test must not turn into a match).
    const auto negated =
        kql_test::must_parse("not process.args:*a*" + std::string(3000, 'a') + "b");
    CHECK_FALSE(negated.matches(kql_test::MapAccessor(event), cut));
    CHECK(cut);

    // The bound is per event: a small event right after matches as ever.
    kql_test::Event small;
    small["process.args"] = {"x" + std::string(3001, 'a') + "b"};
    CHECK(query.matches(kql_test::MapAccessor(small), cut));
    CHECK_FALSE(cut);
    CHECK(negated.matches(kql_test::MapAccessor(event), cut) == false);
}

TEST_CASE("Match work: a 6,000-value list is one hash lookup per value", "[match-work]") {
    std::string text = "process.args:(";
    for (int i = 0; i < 6000; ++i) text += (i ? " or v" : "v") + std::to_string(i);
    text += " or *wild*)";
    const auto query = kql_test::must_parse(text);
    const auto event = mib_of_args();
    bool cut = false;
    const auto start = Clock::now();
    for (int i = 0; i < 10; ++i) CHECK_FALSE(query.matches(kql_test::MapAccessor(event), cut));
    CHECK(Clock::now() - start < std::chrono::milliseconds(500));  // was 0.8 s each
    CHECK_FALSE(cut);
    kql_test::Event hit;
    hit["process.args"] = {"x", "v5999"};
    CHECK(query.matches(kql_test::MapAccessor(hit), cut));
    hit["process.args"] = {"v6000", "a-wild-one"};
    CHECK(query.matches(kql_test::MapAccessor(hit), cut));  // the wildcard is still tested
    hit["process.args"] = {"v6000", "V1"};
    CHECK_FALSE(query.matches(kql_test::MapAccessor(hit), cut));  // KQL is case-sensitive
}

TEST_CASE("Match work: an EQL in~ list folds case through the hash set", "[match-work]") {
    std::string text = "process where process.name in~ (";
    for (int i = 0; i < 20; ++i) text += (i ? ", \"Tool" : "\"Tool") + std::to_string(i) + "\"";
    text += ")";
    const auto query = eql_test::must_parse(text);
    eql_test::Event e;
    e["process.name"] = {"tOOL19"};
    CHECK(query.query.matches(eql_test::MapAccessor(e)));
    e["process.name"] = {"tool20"};
    CHECK_FALSE(query.query.matches(eql_test::MapAccessor(e)));
}

TEST_CASE("Match work: many large regexes on a huge command line are cut", "[match-work]") {
    // 400 alternatives of 8 pseudo-random letters (RE2 cannot fold them into a small program),
    // within the 4096 bytes a regex may have.
    std::vector<std::string> words;
    std::uint32_t seed = 12345;
    for (int i = 0; i < 400; ++i) {
        std::string w;
        for (int k = 0; k < 8; ++k) {
            seed = seed * 1103515245u + 12345u;
            w += static_cast<char>('a' + (seed >> 16) % 26);
        }
        words.push_back(w);
    }
    std::string alternatives;
    for (const auto& w : words) alternatives += (alternatives.empty() ? "" : "|") + w;
    std::string text = "process where ";
    for (int r = 0; r < 15; ++r) {
        text += (r ? " or " : "") + std::string("process.command_line regex \".*(") +
                alternatives + ")" + std::to_string(r) + ".*\"";
    }
    const auto query = eql_test::must_parse(text);
    eql_test::Event e;
    e["process.command_line"] = {std::string(1 << 20, 'w')};
    bool cut = false;
    const auto start = Clock::now();
    CHECK_FALSE(query.query.matches(eql_test::MapAccessor(e), cut));
    CHECK(Clock::now() - start < std::chrono::milliseconds(500));
    CHECK(cut);
    e["process.command_line"] = {"run " + words[399] + " 7 now"};
    CHECK_FALSE(query.query.matches(eql_test::MapAccessor(e), cut));
    e["process.command_line"] = {"run " + words[399] + "7 now"};
    CHECK(query.query.matches(eql_test::MapAccessor(e), cut));
    CHECK_FALSE(cut);
}
