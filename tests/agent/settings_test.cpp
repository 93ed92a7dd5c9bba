#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "agent/settings.h"

using scanwatch::agent::engine_options;
using scanwatch::agent::reparse_settings;
using scanwatch::agent::Settings;
using scanwatch::rules::Evaluation;
using scanwatch::rules::NameMatch;
using scanwatch::agent::Profile;

namespace {

std::optional<Settings> parse(std::vector<std::string> args, std::string& error) {
    args.insert(args.begin(), "scanwatch");
    args.emplace_back("--config=/dev/null");  // not /etc/scanwatch/scanwatch.toml of the machine
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return reparse_settings(static_cast<int>(argv.size()), argv.data(), error);
}

}  // namespace

TEST_CASE("Settings: profile, name match and evaluation are parsed once into enums", "[settings]") {
    std::string error;
    const auto defaults = parse({"replay", "x.log"}, error);
    REQUIRE(defaults);
    CHECK(defaults->profile == Profile::hardened);
    CHECK_FALSE(defaults->name_match.has_value());
    CHECK(defaults->evaluation == Evaluation::streaming);
    CHECK(engine_options(*defaults).name_match == NameMatch::any);
    CHECK(engine_options(*defaults).session_grouping);

    const auto elastic = parse({"replay", "--profile", "elastic", "--evaluation", "scheduled", "x.log"}, error);
    REQUIRE(elastic);
    CHECK(elastic->profile == Profile::elastic);
    CHECK(elastic->evaluation == Evaluation::scheduled);
    CHECK(engine_options(*elastic).name_match == NameMatch::comm);
    CHECK_FALSE(engine_options(*elastic).session_grouping);
    CHECK(engine_options(*elastic).evaluation == Evaluation::scheduled);

    // An explicit --name-match wins over the profile's, either way.
    const auto elastic_any = parse({"replay", "--profile=elastic", "--name-match=any", "x.log"}, error);
    REQUIRE(elastic_any);
    CHECK(elastic_any->name_match == NameMatch::any);
    CHECK(engine_options(*elastic_any).name_match == NameMatch::any);
    const auto hardened_comm = parse({"replay", "--name-match=comm", "x.log"}, error);
    REQUIRE(hardened_comm);
    CHECK(engine_options(*hardened_comm).name_match == NameMatch::comm);
    CHECK(engine_options(*hardened_comm).session_grouping);
}

TEST_CASE("Settings: a bad profile, name match or evaluation is refused, naming the values", "[settings]") {
    std::string error;
    CHECK_FALSE(parse({"replay", "--profile", "bogus", "x.log"}, error));
    CHECK(error == "--profile: bogus not in {hardened,elastic}");
    CHECK_FALSE(parse({"replay", "--name-match", "bogus", "x.log"}, error));
    CHECK(error == "--name-match: bogus not in {any,comm}");
    CHECK_FALSE(parse({"replay", "--evaluation", "bogus", "x.log"}, error));
    CHECK(error == "--evaluation: bogus not in {streaming,scheduled}");
}

TEST_CASE("Settings: a config file with a dotted key of 50,000 parts is refused, naming the file",
          "[settings][toml-guard]") {
    // CLI11 dropped a key of more than 255 parts without a word; the guard names file and place.
    const std::string path = "/tmp/scanwatch_settings_test_config.toml";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "profile = \"elastic\"\na";
        for (int i = 1; i < 50'000; ++i) out << ".a";
        out << " = 1\n";
    }
    const std::string config = "--config=" + path;
    const char* argv[] = {"scanwatch", config.c_str(), "replay", "x.log"};
    std::string error;
    const auto settings = reparse_settings(4, argv, error);
    std::remove(path.c_str());
    CHECK_FALSE(settings);
    CHECK(error.find(path + ":2:") != std::string::npos);
    CHECK(error.find("more than 64 dotted parts") != std::string::npos);

    // A plain config file is still read.
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "profile = \"elastic\"\n";
    }
    const auto plain = reparse_settings(4, argv, error);
    std::remove(path.c_str());
    REQUIRE(plain);
    CHECK(plain->profile == Profile::elastic);
}

TEST_CASE("Settings: a config file holds flat keys: no [sections], no dotted keys",
          "[settings][toml-guard]") {
    // CLI11 copied the section path at every section change: 42 KB of [a.b...] lines took 2 GB.
    const std::string path = "/tmp/scanwatch_settings_test_sections.toml";
    const std::string config = "--config=" + path;
    const char* argv[] = {"scanwatch", config.c_str(), "replay", "x.log"};
    for (const char* text : {"profile = \"elastic\"\n[replay]\nstats = true\n",
                             "profile = \"elastic\"\n[[a.b.c]]\n", "profile = \"elastic\"\nreplay.stats = true\n"}) {
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out << text;
        }
        std::string error;
        const auto settings = reparse_settings(4, argv, error);
        INFO(text);
        CHECK_FALSE(settings);
        CHECK(error.find(path + ":2: a config") != std::string::npos);
    }
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "output = [\"-\",\n  \"-\"]\nstats = true\n";  // an array over two lines is fine
    }
    std::string error;
    const auto settings = reparse_settings(4, argv, error);
    std::remove(path.c_str());
    INFO(error);
    CHECK(settings);
}
