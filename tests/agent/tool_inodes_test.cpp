// The hard-link match's file map (agent/tool_inodes.h; docs/detection.md).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "agent/tool_inodes.h"
#include "rules/rule_loader.h"
#include "tests/rules/test_files.h"

using scanwatch::agent::find_tool_inodes;
using scanwatch::agent::rule_tool_names;
using scanwatch::parsers::FileIdentity;
using scanwatch::test::TempDir;

namespace {

FileIdentity identity_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

}  // namespace

TEST_CASE("Tool inodes: the built-in rule's names are the tools it requires", "[tool_inodes]") {
    const auto names = rule_tool_names({scanwatch::rules::builtin_rule()});
    CHECK(names == std::vector<std::string>{"ping", "nping", "hping", "hping2", "hping3", "nc",
                                            "ncat", "netcat", "socat"});
    // Twice the same rule: no duplicates.
    CHECK(rule_tool_names({scanwatch::rules::builtin_rule(), scanwatch::rules::builtin_rule()})
              .size() == names.size());
}

TEST_CASE("Tool inodes: a hard link under another name maps to the tool", "[tool_inodes]") {
    TempDir bin;
    TempDir other;
    const std::string ping = bin.write("ping", "#!/bin/true\n");
    const std::string pong = other.path() + "/pong";
    REQUIRE(::link(ping.c_str(), pong.c_str()) == 0);
    bin.write("nc.openbsd", "nc\n");
    std::filesystem::create_symlink("nc.openbsd", bin.path() + "/nc");  // followed
    bin.write("busybox", "bb\n");
    std::filesystem::create_symlink("busybox", bin.path() + "/ncat");  // a multi-call binary
    std::filesystem::create_directory(bin.path() + "/socat");           // not a file

    const auto tools = find_tool_inodes({"ping", "nc", "ncat", "socat", "hping3", "../x"},
                                        {bin.path(), other.path() + "/missing"});
    REQUIRE(tools.size() == 2);
    CHECK(tools.at(identity_of(pong)) == "ping");  // same device and inode as the tool
    CHECK(tools.at(identity_of(bin.path() + "/nc.openbsd")) == "nc");
    CHECK(tools.count(identity_of(bin.path() + "/busybox")) == 0);

    // A copy is another inode: not the tool.
    const std::string copy = other.write("copy", "#!/bin/true\n");
    CHECK(tools.count(identity_of(copy)) == 0);
    // The first folder holding a name wins; an empty folder list finds nothing.
    CHECK(find_tool_inodes({"ping"}, {}).empty());
}
