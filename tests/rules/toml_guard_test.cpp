#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rules/exceptions.h"
#include "rules/rule_loader.h"
#include "rules/toml_guard.h"

using scanwatch::rules::check_toml_shape;
using scanwatch::rules::kMaxTomlDepth;
using scanwatch::rules::kMaxTomlKeyParts;

namespace {

std::string dotted(std::size_t parts) {
    std::string key = "a";
    for (std::size_t i = 1; i < parts; ++i) key += ".a";
    return key;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

TEST_CASE("TOML guard: a dotted key of 50,000 parts is refused before toml++ recurses into it",
          "[toml-guard]") {
    // Before the guard this overflowed the stack inside toml++ (SIGSEGV in `rules check`).
    const std::string text = "[rule]\n" + dotted(50'000) + " = 1\n";
    const auto loaded = scanwatch::rules::load_rule_text(text, "hostile.toml");
    REQUIRE_FALSE(loaded.ok());
    REQUIRE(loaded.findings.size() == 1);
    CHECK(loaded.findings[0].line == 2);
    CHECK(loaded.findings[0].message.find("more than 64 dotted parts") != std::string::npos);

    const auto exceptions = scanwatch::rules::load_exceptions("[" + dotted(50'000) + "]\n", "x.toml");
    REQUIRE(exceptions.errors.size() == 1);
    CHECK(exceptions.errors[0].line == 1);
}

TEST_CASE("TOML guard: key parts, header parts and nesting depth have limits", "[toml-guard]") {
    CHECK_FALSE(check_toml_shape(dotted(kMaxTomlKeyParts) + " = 1\n"));
    CHECK(check_toml_shape(dotted(kMaxTomlKeyParts + 1) + " = 1\n"));
    CHECK(check_toml_shape("[" + dotted(kMaxTomlKeyParts + 1) + "]\n"));
    CHECK(check_toml_shape("[[" + dotted(kMaxTomlKeyParts + 1) + "]]\n"));
    CHECK(check_toml_shape("x = { " + dotted(kMaxTomlKeyParts + 1) + " = 1 }\n"));
    // Quoted parts count too; dots inside strings, comments and values do not.
    std::string quoted = "'a'";
    for (std::size_t i = 0; i < kMaxTomlKeyParts; ++i) quoted += i % 2 ? ".'a'" : ".\"a.b\"";
    CHECK(check_toml_shape(quoted + " = 1\n"));
    CHECK_FALSE(check_toml_shape("a = \"" + dotted(1000) + "\"\n"));
    CHECK_FALSE(check_toml_shape("a = '''\n" + dotted(1000) + " = 1\n'''\n"));
    CHECK_FALSE(check_toml_shape("a = \"\"\"x\"\"\"\"\"\nb = 1 # " + dotted(1000) + "\n"));
    CHECK_FALSE(check_toml_shape("a = [1.5, 2.5, {b.c = 1.25}]\n"));

    // Depth adds up: the header's parts, each key's parts, each array and inline table.
    CHECK_FALSE(check_toml_shape("[" + dotted(60) + "]\n" + dotted(60) + " = 1\n"));
    CHECK_FALSE(check_toml_shape("[" + dotted(64) + "]\n" + dotted(64) + " = 1\n"));  // 128
    const auto deep = check_toml_shape("[" + dotted(64) + "]\n" + dotted(64) + " = [1]\n");
    REQUIRE(deep);
    CHECK(deep->line == 2);
    CHECK(deep->message.find("nest deeper than 128") != std::string::npos);
    CHECK(check_toml_shape("x = " + std::string(kMaxTomlDepth + 1, '[') + "\n"));
    CHECK_FALSE(check_toml_shape("x = " + std::string(100, '[') + std::string(100, ']') + "\n"));
    std::string inline_tables = "x = ";
    for (int i = 0; i < 20; ++i) inline_tables += "{a.a.a.a.a.a.a.a = ";
    CHECK(check_toml_shape(inline_tables + "1\n"));

    const std::string big(scanwatch::rules::kMaxTomlBytes + 1, '#');
    const auto size = check_toml_shape(big);
    REQUIRE(size);
    CHECK(size->line == 0);
}

TEST_CASE("TOML guard: every rule file we ship and test with passes", "[toml-guard]") {
    std::vector<std::string> files{SCANWATCH_SOURCE_DIR "/rules/builtin/network_scan.toml"};
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             SCANWATCH_SOURCE_DIR "/tests/elastic-rules")) {
        if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
    }
    REQUIRE(files.size() > 4);
    for (const auto& file : files) {
        INFO(file);
        const std::string text = read_file(file);
        REQUIRE_FALSE(text.empty());
        CHECK_FALSE(check_toml_shape(text));
    }
}
