#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "parsers/ecs/ecs_json.h"
#include "parsers/execve_normalizer.h"
#include "tests/parsers/normalize_text.h"

using scanwatch::ProcessEvent;
using scanwatch::test::normalize_text;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

scanwatch::test::Normalized corpus(const std::string& relative) {
    return normalize_text(read_file(std::string(SCANWATCH_CORPUS_DIR "/") + relative));
}

}  // namespace

// What one corpus file gave, as one line: every filter counter (the network ones when not
// zero), auparse's events, and the
// normalizer's counters and malformed reasons that are not zero (the registry tables' names).
std::string counts_line(const std::string& relative, const scanwatch::test::Normalized& r) {
    std::string line = relative;
    const auto add = [&line](std::string_view name, std::uint64_t value) {
        line += " " + std::string(name) + "=" + std::to_string(value);
    };
    // Events ended early are listed only when there are some (no public log has any); the
    // network counters stay 0 here (normalize_text does not pass network records).
    scanwatch::parsers::for_each_counter(
        r.filter, scanwatch::parsers::kFilterCounterFields,
        [&add](std::string_view name, std::uint64_t value) {
            const bool zero_hidden = name.rfind("events_ended_", 0) == 0 || name == "network_syscalls" || name == "proctitles_as_eoe" || name == "proctitles_flushed" ||
                                     name == "sockets_other_family" || name == "sockaddrs_other_family";
            if (value != 0 || !zero_hidden) add(name, value);
        });
    for (std::size_t i = 0; i < scanwatch::parsers::kMalformedReasons; ++i) {
        const auto reason = static_cast<scanwatch::parsers::Malformed>(i);
        if (r.filter.malformed[i] != 0) add("malformed." + std::string(malformed_name(reason)), r.filter.malformed[i]);
    }
    add("events", r.audit_events);
    scanwatch::parsers::for_each_counter(
        r.normalizer, scanwatch::parsers::kNormalizerCounterFields,
        [&](std::string_view name, std::uint64_t value) {
            if (value != 0 || name == "execs") add(name, value);
        });
    return line;
}

TEST_CASE("Corpus: every public log replays to its pinned counts, in any chunking", "[corpus]") {
    // tests/corpus_counts.txt pins each file's counts. After a reviewed change of behaviour,
    // SCANWATCH_UPDATE_CORPUS_COUNTS=1 rewrites it from this run.
    const std::string pinned_path = SCANWATCH_SOURCE_DIR "/tests/corpus_counts.txt";
    std::map<std::string, std::string> pinned;
    {
        std::istringstream in(read_file(pinned_path));
        for (std::string line; std::getline(in, line);) {
            if (!line.empty() && line[0] != '#') pinned[line.substr(0, line.find(' '))] = line;
        }
    }
    std::map<std::string, std::string> seen;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(SCANWATCH_CORPUS_DIR)) {
        if (!entry.is_regular_file() || entry.path().filename() == "PROVENANCE.md") continue;
        const std::string relative =
            std::filesystem::relative(entry.path(), SCANWATCH_CORPUS_DIR).generic_string();
        INFO(relative);
        const auto text = read_file(entry.path().string());
        // Several chunk sizes: records cut anywhere must give the same events and counts.
        const auto whole = normalize_text(text, {}, 1 << 20);
        const auto small = normalize_text(text, {}, 13);
        const std::string line = counts_line(relative, whole);
        CHECK(counts_line(relative, small) == line);
        CHECK(whole.events.size() == whole.normalizer.execs);
        seen[relative] = line;
    }
    if (std::getenv("SCANWATCH_UPDATE_CORPUS_COUNTS") != nullptr) {
        std::ofstream out(pinned_path, std::ios::trunc);
        out << "# corpus file, then its counts (tests/parsers/corpus_test.cpp); zero counts left out\n";
        for (const auto& [relative, line] : seen) out << line << "\n";
        pinned = seen;
    }
    for (const auto& [relative, line] : seen) {
        INFO("pinned in tests/corpus_counts.txt: " << (pinned.count(relative) ? pinned[relative] : "(none)"));
        CHECK(line == pinned[relative]);
    }
    for (const auto& [relative, line] : pinned) {
        INFO("pinned but not in tests/corpus: " << relative);
        CHECK(seen.count(relative) == 1);
    }
    CHECK(seen.size() >= 120);
}

TEST_CASE("Corpus: SYSCALL records cut to the fields the normalizer reads give the same events",
          "[corpus]") {
    std::size_t files = 0;
    std::size_t events = 0;
    for (const char* dir : {SCANWATCH_CORPUS_DIR, SCANWATCH_SOURCE_DIR "/samples"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
            const auto ext = entry.path().extension();
            if (!entry.is_regular_file() || ext == ".md" || ext == ".sh") continue;
            INFO(entry.path().string());
            const auto text = read_file(entry.path().string());
            scanwatch::parsers::NormalizerOptions options;
            const auto cut = normalize_text(text, options, 1 << 16, true);
            const auto whole = normalize_text(text, options, 1 << 16, false);
            REQUIRE(cut.events.size() == whole.events.size());
            for (std::size_t i = 0; i < cut.events.size(); ++i) {
                std::string a;
                std::string b;
                scanwatch::append_event_json(a, cut.events[i]);
                scanwatch::append_event_json(b, whole.events[i]);
                CHECK(a == b);
            }
            CHECK(cut.normalizer.bad_fields == whole.normalizer.bad_fields);
            CHECK(cut.normalizer.syscall_without_execve == whole.normalizer.syscall_without_execve);
            events += cut.events.size();
            ++files;
        }
    }
    CHECK(files >= 130);
    CHECK(events > 2000);
}

TEST_CASE("Corpus: hex-encoded argument (elastic beats execve-hex-arg.log)", "[corpus]") {
    const auto r = corpus("elastic__beats/filebeat/module/auditd/log/test/execve-hex-arg.log");
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].args == std::vector<std::string>{"sh", "-c", R"(echo \"arg hex encoded\")"});
}

TEST_CASE("Corpus: split argument over several EXECVE records (laurel record-execve-long.txt)",
          "[corpus]") {
    const auto r = corpus("threathunters-io__laurel/src/testdata/record-execve-long.txt");
    REQUIRE(r.events.size() == 1);
    const ProcessEvent& e = r.events[0];
    REQUIRE(e.args.size() == 2);
    CHECK(e.args[0] == "/bin/echo");
    // Three chunks a1[0..2] of 3732 + 3746 + 714 decoded bytes, rejoined in order; longer than
    // what an argument keeps, so its first 4096 bytes and the length and digest of all 8192.
    REQUIRE(e.args[1].size() > scanwatch::parsers::kMaxArgBytes);
    CHECK(e.args[1].rfind("baaaaaaaa", 0) == 0);
    CHECK(e.args[1].find("daaaaaaaa") == 3732);
    CHECK(e.args[1].substr(scanwatch::parsers::kMaxArgBytes).rfind(
              "[scanwatch: truncated, 8192 bytes, xxh3-128 ", 0) == 0);
    CHECK(e.host_id == "test-host-id");
}

TEST_CASE("Corpus: oversized EXECVE with a17_len and hex chunks (elastic integrations)",
          "[corpus]") {
    const auto r = corpus(
        "elastic__integrations/packages/auditd/data_stream/log/_dev/test/pipeline/"
        "test-oversized-execve.log");
    REQUIRE(r.events.size() == 1);
    const ProcessEvent& e = r.events[0];
    CHECK(e.args_count == 18);
    REQUIRE(e.args.size() == 18);
    CHECK(e.args[0] == "awk");
    CHECK(e.args[16] == "speedVal=10000");
    CHECK(e.args[17].find("[scanwatch: truncated, 7067 bytes, xxh3-128 ") ==
          scanwatch::parsers::kMaxArgBytes);  // a17_len
    CHECK(r.normalizer.execve_without_syscall == 1);
}

TEST_CASE("Corpus: node= names the host (laurel record-execve.txt)", "[corpus]") {
    const auto r = corpus("threathunters-io__laurel/src/testdata/record-execve.txt");
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].host_id == "work");
    CHECK(r.events[0].args == std::vector<std::string>{"whoami"});
    CHECK(r.events[0].user.name == "root");  // ENRICHED
    CHECK(r.events[0].audit_user.name == "user");
}

TEST_CASE("Corpus: out-of-order records give the same events as in order (go-libaudit)",
          "[corpus]") {
    const auto normal = corpus("elastic__go-libaudit/testdata/normal.log");
    const auto shuffled = corpus("elastic__go-libaudit/testdata/out_of_order.log");
    REQUIRE(normal.events.size() == 2);
    REQUIRE(shuffled.events.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(normal.events[i].args == shuffled.events[i].args);
        CHECK(normal.events[i].pid == shuffled.events[i].pid);
    }
}
