#include <catch2/catch.hpp>

#include <string>

#include "rules/rule_summary.h"
#include "tests/rules/test_files.h"

using namespace scanwatch::rules;
using scanwatch::test::TempDir;

namespace {

std::string rule(const std::string& id, const std::string& type, const std::string& query) {
    return "[rule]\nrule_id = \"" + id + "\"\nname = \"" + id + "\"\ntype = \"" + type +
           "\"\nquery = '''" + query + "'''\n";
}

}  // namespace

TEST_CASE("rules check --summary: a verdict per file, folders walked, and the counts", "[summary]") {
    TempDir dir;
    dir.write("a_fires.toml", rule("a", "query", "event.category:process and process.name:shred"));
    dir.write("sub/b_file.toml", rule("b", "query", "event.category:file and file.path:/etc/*"));
    dir.write("sub/c_defend.toml", rule("c", "query", "event.action:exec and process.name:shred"));
    dir.write("d_ml.toml", rule("d", "machine_learning", "a:b"));
    dir.write("e_bad.toml", rule("e", "query", "process.name:("));
    dir.write(".hidden/f.toml", rule("f", "query", "process.name:x"));
    dir.write("notes.txt", "not a rule");
    const Summary s = summarize_rules({dir.path()});
    REQUIRE(s.files.size() == 5);
    CHECK(s.count(Verdict::can_fire) == 1);
    CHECK(s.count(Verdict::cannot_fire) == 2);
    CHECK(s.count(Verdict::refused) == 2);
    CHECK(s.refused_by.at("type machine_learning") == 1);
    CHECK(s.refused_by.at("kuery: query error") == 1);
    const std::string text = s.to_string();
    CHECK(text.find("can-fire     " + dir.path() + "/a_fires.toml\n") != std::string::npos);
    CHECK(text.find("sub/b_file.toml: its query requires event.category to be file") != std::string::npos);
    CHECK(text.find("sub/c_defend.toml: its query requires event.action to be exec") != std::string::npos);
    CHECK(text.find("files 5, load 3, can fire 1, cannot fire 2, refused 2\n") != std::string::npos);
    CHECK(text.find("  loaded query: can fire 1, cannot fire 2\n") != std::string::npos);
}
