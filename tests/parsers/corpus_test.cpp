#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "parsers/ecs_json.h"
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

TEST_CASE("Corpus: every public log replays, malformed lines counted", "[corpus]") {
    std::size_t files = 0;
    std::uint64_t execs = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(SCANWATCH_CORPUS_DIR)) {
        if (!entry.is_regular_file() || entry.path().filename() == "PROVENANCE.md") continue;
        INFO(entry.path().string());
        const auto text = read_file(entry.path().string());
        // Several chunk sizes: records cut anywhere must give the same events.
        const auto whole = normalize_text(text, {}, 1 << 20);
        const auto small = normalize_text(text, {}, 13);
        CHECK(whole.events.size() == small.events.size());
        CHECK(whole.filter.malformed_total() == small.filter.malformed_total());
        CHECK(whole.filter.lines >= whole.filter.records);
        execs += whole.events.size();
        ++files;
    }
    CHECK(files >= 120);
    CHECK(execs > 20);
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
