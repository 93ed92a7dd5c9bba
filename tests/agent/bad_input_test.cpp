#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/agent/replay_harness.h"

using scanwatch::test::replay_paths;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string temp_file(const std::string& name, const std::string& content) {
    const auto path = (std::filesystem::temp_directory_path() / ("scanwatch-test-" + name)).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

// The alerts of `text` replayed from a file (the harness fixes host identity and created time).
std::vector<std::string> alerts_of(const std::string& text, const std::string& name) {
    const auto path = temp_file(name, text);
    auto r = replay_paths({path});
    std::filesystem::remove(path);
    return r.alerts;
}

// Replays `text` from a file; the stats as JSON, the alerts in `alerts`.
nlohmann::json stats_of(const std::string& text, const std::string& name,
                        std::vector<std::string>* alerts = nullptr) {
    const auto path = temp_file(name, text);
    auto r = replay_paths({path});
    std::filesystem::remove(path);
    if (alerts) *alerts = r.alerts;
    return nlohmann::json::parse(r.stats);
}

}  // namespace

TEST_CASE("Bad input: garbage between the records of a sweep loses nothing", "[bad-input]") {
    const std::string clean = read_file(kSamples + "ping_sweep.enriched.log");
    const auto expected = alerts_of(clean, "clean");
    REQUIRE(expected.size() == 1);

    // After every 7th line insert one kind of damage, then the good lines continue.
    const std::vector<std::string> damage = {
        "this is not an audit record",
        std::string("type=EXECVE msg=audit(1.2:3): a0=\"nul\0here\"", 40),
        "type=SYSCALL msg=audit(garbage): arch=c000003e syscall=59",
        "type=EXECVE msg=audit(1700000000.000:1",  // truncated mid-header
        std::string(200'000, 'X'),                  // a huge line
        "type=EXECVE msg=audit(1700000001.000:99999999): argc=2 a0=\"ping\" a1=FFFE80",  // invalid UTF-8
        "\x1d\x1d\x1d\xff\xfe",
    };
    std::string damaged;
    std::istringstream lines(clean);
    std::string line;
    std::size_t n = 0;
    std::vector<std::size_t> inserted(damage.size());
    while (std::getline(lines, line)) {
        damaged += line + "\n";
        if (++n % 7 == 0) {
            damaged += damage[(n / 7) % damage.size()] + "\n";
            ++inserted[(n / 7) % damage.size()];
        }
    }
    std::vector<std::string> alerts;
    const auto stats = stats_of(damaged, "damaged", &alerts);
    const auto before = stats_of(clean, "clean");
    CHECK(alerts == expected);
    // Each damaged line is counted under its reason; the forged EXECVE (the one well-formed
    // record among them) is an exec of its own, without SYSCALL, hence without a group.
    const auto& m = stats["malformed"];
    CHECK(m["garbage"] == inserted[0] + inserted[6]);
    CHECK(m["nul_byte"] == inserted[1]);
    CHECK(m["bad_header"] == inserted[2] + inserted[3]);
    CHECK(m["too_long"] == inserted[4]);
    CHECK(m["total"] == n / 7 - inserted[5]);
    CHECK(stats["records"] == before["records"].get<std::size_t>() + inserted[5]);
    CHECK(stats["execs"] == before["execs"].get<std::size_t>() + inserted[5]);
    CHECK(stats["execve_without_syscall"] == inserted[5]);
    CHECK(stats["rules"][0]["missing_group_field"] == inserted[5]);
    CHECK(stats["rules"][0]["matched"] == before["rules"][0]["matched"].get<std::size_t>() + inserted[5]);
}

TEST_CASE("Bad input: the agent never crashes on random bytes", "[bad-input]") {
    std::string noise;
    std::uint32_t x = 12345;
    for (int i = 0; i < 2'000'000; ++i) {
        x = x * 1103515245U + 12345U;
        char c = static_cast<char>(x >> 24U);
        if ((x & 0x3FU) == 0) c = '\n';
        noise += c;
    }
    const std::size_t random_lines = static_cast<std::size_t>(std::count(noise.begin(), noise.end(), '\n')) + 1;
    // Real records after it: the first is glued to the last random line (a torn record), the
    // rest must come through as if alone.
    const std::string sample = read_file(kSamples + "noise.enriched.log");
    const auto alone = stats_of(sample, "sample");
    noise += sample;
    nlohmann::json stats;
    REQUIRE_NOTHROW(stats = stats_of(noise, "random"));
    CHECK(stats["bytes"] == noise.size());
    CHECK(stats["lines"] == alone["lines"].get<std::size_t>() + random_lines - 1);
    // Random bytes make no record: every random line is malformed or ignored (blank, '#'),
    // and the glued one is malformed in place of the sample's first record.
    CHECK(stats["records"] == alone["records"].get<std::size_t>() - 1);
    CHECK(stats["malformed"]["total"].get<std::size_t>() +
              stats["ignored_lines"].get<std::size_t>() ==
          random_lines + alone["ignored_lines"].get<std::size_t>());
    CHECK(stats["malformed"]["nul_byte"].get<std::size_t>() > 0);
    CHECK(stats["malformed"]["garbage"].get<std::size_t>() > 0);
    // The sample's first record is no exec's (checked), so every exec survives.
    CHECK(sample.rfind("type=DAEMON_START", 0) == 0);
    CHECK(alone["malformed"]["total"] == 0);
    CHECK(stats["execs"] == alone["execs"]);
    CHECK(alone["execs"].get<std::size_t>() > 0);
}

TEST_CASE("Bad input: a path that cannot be read is an error naming it", "[bad-input]") {
    try {
        scanwatch::agent::expand_replay_paths({"/nonexistent/audit.log"});
        FAIL("no error");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("/nonexistent/audit.log") != std::string::npos);
    }
}
