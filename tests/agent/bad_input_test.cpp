#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

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

// Drops event.created-free alerts' per-file fields that legitimately differ: none do, since
// the golden harness fixes host identity and created time.
std::vector<std::string> alerts_of(const std::string& text, const std::string& name) {
    const auto path = temp_file(name, text);
    auto r = replay_paths({path});
    std::filesystem::remove(path);
    return r.alerts;
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
    while (std::getline(lines, line)) {
        damaged += line + "\n";
        if (++n % 7 == 0) damaged += damage[(n / 7) % damage.size()] + "\n";
    }
    const auto path = temp_file("damaged", damaged);
    const auto r = replay_paths({path}, scanwatch::rules::NameMatch::any, true);
    std::filesystem::remove(path);
    CHECK(r.alerts == expected);
    CHECK(r.stats.find("\"malformed\":{\"total\":0") == std::string::npos);
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
    // Interleave with real records so auparse sees half-records too.
    noise += read_file(kSamples + "noise.enriched.log");
    const auto path = temp_file("random", noise);
    CHECK_NOTHROW(replay_paths({path}, scanwatch::rules::NameMatch::any, true));
    std::filesystem::remove(path);
}

TEST_CASE("Bad input: a path that cannot be read is an error naming it", "[bad-input]") {
    try {
        scanwatch::agent::expand_replay_paths({"/nonexistent/audit.log"});
        FAIL("no error");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("/nonexistent/audit.log") != std::string::npos);
    }
}
