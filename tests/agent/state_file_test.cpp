#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/sources/state_file.h"

using scanwatch::agent::check_state_path;
using scanwatch::agent::parse_state;
using scanwatch::agent::read_state;
using scanwatch::agent::TailState;
using scanwatch::agent::write_state;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        char tmpl[] = "/tmp/scanwatch-state-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(dir); }
};

nlohmann::json valid() {
    return nlohmann::json::parse(R"({"version": 2, "file": {"dev": 1, "ino": 2, "offset": 3},
        "skip": ["6b"], "processes": [["68", 5, "id", "2f62696e"]],
        "rules": {"fp": {"engine": "streaming", "groups": []}},
        "outputs": [{"path": "2f61", "dev": 1, "ino": 4, "size": 9}]})");
}

// The message parse_state() refuses `text` with; empty when it is accepted.
std::string refusal_of(const std::string& text) {
    try {
        parse_state(text);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

std::string refusal(const nlohmann::json& j) {
    return refusal_of(j.dump());
}

}  // namespace

TEST_CASE("State file: what is written is read back, binary bytes and output identity included",
          "[state]") {
    TempDir t;
    TailState s;
    s.checkpoint.position = {{7, 8}, 12345};
    s.checkpoint.skip = {"host:1.002:3", std::string("x\xff", 2)};
    scanwatch::parsers::ProcessTable::Saved met_as_parent;
    met_as_parent.host = "h";
    met_as_parent.pid = 41;
    met_as_parent.entity_id = "parent";
    s.checkpoint.pipeline.processes.push_back(met_as_parent);
    scanwatch::parsers::ProcessTable::Saved exec;
    exec.host = "h";
    exec.pid = 42;
    exec.entity_id = "entity";
    exec.exec_seen = true;
    exec.executable = std::string("/bin/\xfe", 6);
    exec.name = "sh";
    exec.args = std::string("sh\0-c\0\0", 8);  // an empty argument last
    exec.args_count = 4;
    s.checkpoint.pipeline.processes.push_back(exec);
    s.checkpoint.pipeline.rules["fp"] = {{"engine", "streaming"}};
    s.outputs.push_back({"/var/log/a b", {3, 4}, 99});
    std::string error;
    const std::string path = (t.dir / "state").string();
    REQUIRE(write_state(path, s, error));
    const auto r = read_state(path);
    REQUIRE(r);
    CHECK(r->checkpoint.position.file == scanwatch::agent::FileId{7, 8});
    CHECK(r->checkpoint.position.offset == 12345);
    CHECK(r->checkpoint.skip == s.checkpoint.skip);
    REQUIRE(r->checkpoint.pipeline.processes.size() == 2);
    CHECK_FALSE(r->checkpoint.pipeline.processes[0].exec_seen);
    const auto& back = r->checkpoint.pipeline.processes[1];
    CHECK(back.pid == 42);
    CHECK(back.exec_seen);
    CHECK(back.executable == std::string("/bin/\xfe", 6));
    CHECK(back.name == "sh");
    CHECK(back.args == exec.args);
    CHECK(back.args_count == 4);
    CHECK(r->checkpoint.pipeline.rules.at("fp") == s.checkpoint.pipeline.rules.at("fp"));
    REQUIRE(r->outputs.size() == 1);
    CHECK(r->outputs[0].path == "/var/log/a b");
    CHECK(r->outputs[0].id == scanwatch::agent::FileId{3, 4});
    CHECK(r->outputs[0].size == 99);
}

TEST_CASE("State file: every field is checked; the message says which", "[state]") {
    CHECK(refusal(valid()).empty());
    auto j = valid();
    j["processes"][0][0] = "6800";  // a NUL byte in a host id made every start die in stoll
    CHECK_THAT(refusal(j), Catch::Contains("host id holds a NUL byte"));
    j = valid();
    j["file"]["offset"] = 1e300;  // converting it to an integer was undefined behaviour
    CHECK_THAT(refusal(j), Catch::Contains("not an integer"));
    j = valid();
    j["rules"]["fp"]["groups"] = {{{"last_ms", 1.5}}};  // inside a rule's state too
    CHECK_THAT(refusal(j), Catch::Contains("not an integer"));
    j = valid();
    j["file"]["offset"] = -1;
    CHECK_THAT(refusal(j), Catch::Contains("file.offset"));
    j = valid();
    j["file"]["dev"] = "1";
    CHECK_THAT(refusal(j), Catch::Contains("file.dev"));
    j = valid();
    j["processes"][0][1] = -5;
    CHECK_THAT(refusal(j), Catch::Contains("pid"));
    j = valid();
    j["processes"][0] = {"68", 5};
    CHECK_THAT(refusal(j), Catch::Contains("process entry"));
    j = valid();
    j["skip"][0] = "zz";
    CHECK_THAT(refusal(j), Catch::Contains("skip key is not hex"));
    j = valid();
    j["skip"] = nlohmann::json::array();
    for (std::size_t i = 0; i <= scanwatch::agent::kMaxSkipKeys; ++i) j["skip"].push_back("61");
    CHECK_THAT(refusal(j), Catch::Contains("more than"));
    j = valid();
    j["outputs"][0]["path"] = "2f00";
    CHECK_THAT(refusal(j), Catch::Contains("output path holds a NUL byte"));
    j = valid();
    j["version"] = 4;
    CHECK_THAT(refusal(j), Catch::Contains("version 4"));
    j = valid();
    j.erase("rules");
    CHECK_THAT(refusal(j), Catch::Contains("state.rules"));
    CHECK_THAT(refusal_of("[]"), Catch::Contains("not a JSON object"));
    CHECK_THAT(refusal_of(std::string(100000, '[')), Catch::Contains("nests deeper"));
    CHECK_THAT(refusal_of("\"x\""), Catch::Contains("not a JSON object"));
    CHECK_THROWS_WITH(parse_state("{\"version\": 2,"), Catch::Contains("not JSON"));
}

TEST_CASE("State file: a version 2 process entry knows only its executable", "[state]") {
    const TailState s = parse_state(valid().dump());
    REQUIRE(s.checkpoint.pipeline.processes.size() == 1);
    CHECK(s.checkpoint.pipeline.processes[0].executable == "/bin");
    CHECK_FALSE(s.checkpoint.pipeline.processes[0].exec_seen);  // name, args, argc: unknown
    auto j = valid();
    j["processes"][0] = {"68", 5, "id", "2f62696e", "7368", "736800", -1};
    CHECK_THAT(refusal(j), Catch::Contains("argc"));
}

TEST_CASE("State file: version 1 is read without its output sizes", "[state]") {
    auto j = valid();
    j["version"] = 1;
    j["outputs"] = {{"2f61", 9}};
    const TailState s = parse_state(j.dump());
    CHECK(s.outputs.empty());
    CHECK(s.checkpoint.position.offset == 3);
}

TEST_CASE("State file: missing is no state; a folder or a bad file is named", "[state]") {
    TempDir t;
    const std::string path = (t.dir / "state").string();
    CHECK_FALSE(read_state(path));
    CHECK(check_state_path(path).empty());
    CHECK_THAT(check_state_path(t.dir.string()), Catch::Contains("is a directory"));
    CHECK_THAT(check_state_path((t.dir / "no" / "state").string()),
               Catch::Contains("No such file"));
    std::ofstream(path) << "{\"version\": 2}";
    CHECK_THROWS_WITH(read_state(path),
                      Catch::Contains(path) && Catch::Contains("not a usable state file"));
}
