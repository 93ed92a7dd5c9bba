// The hard-link match's file map (agent/tool_inodes.h; docs/detection.md).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "agent/session.h"
#include "agent/settings.h"
#include "agent/tool_inodes.h"
#include "rules/rule_loader.h"
#include "tests/rules/test_files.h"

using scanwatch::agent::find_tool_inodes;
using scanwatch::agent::rule_tool_names;
using scanwatch::parsers::FileIdentity;
using scanwatch::test::TempDir;

namespace {

std::string fmt_hex(unsigned int n) { return fmt::format("{:02x}", n); }

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

namespace {

// 110 execs of `exe` as comm `pong`, one target each, whose PATH item 0 is `file`.
std::string pong_sweep(const std::string& exe, FileIdentity file, int first_serial) {
    std::string text;
    const std::string dev =
        fmt_hex(major(file.device)) + ":" + fmt_hex(minor(file.device));
    for (int i = 1; i <= 110; ++i) {
        const int serial = first_serial + i;
        const std::string stamp = "msg=audit(1700000" + std::to_string(100 + serial / 1000) +
                                  "." + std::to_string(100 + serial % 900) + ":" +
                                  std::to_string(serial) + "): ";
        text += "type=SYSCALL " + stamp +
                "arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=77 pid=" +
                std::to_string(1000 + serial) +
                " auid=0 uid=0 gid=0 euid=0 egid=0 ses=5 comm=\"pong\" exe=\"" + exe +
                "\" key=(null)\ntype=EXECVE " + stamp +
                "argc=4 a0=\"pong\" a1=\"-c1\" a2=\"-W1\" a3=\"127.0.0." + std::to_string(i) +
                "\"\ntype=PATH " + stamp + "item=0 name=\"" + exe + "\" inode=" +
                std::to_string(file.inode) + " dev=" + dev +
                " mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\ntype=PROCTITLE " + stamp +
                "proctitle=706F6E67\n";
    }
    return text;
}

std::size_t alert_lines(const std::string& path) {
    std::ifstream in(path);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n;
}

scanwatch::agent::Settings settings_for(const TempDir& dir, const std::string& alerts,
                                        const std::string& tool_path,
                                        const std::string& profile = "hardened") {
    const std::string config = dir.write("empty.toml", "");
    const std::string config_arg = "--config=" + config;
    const std::string output_arg = "--output=file:" + alerts;
    const std::string tools_arg = "--tool-path=" + tool_path;
    const std::string profile_arg = "--profile=" + profile;
    const char* argv[] = {"scanwatch", config_arg.c_str(), output_arg.c_str(), tools_arg.c_str(),
                          profile_arg.c_str(), "tail", "/nonexistent/audit.log"};
    std::string error;
    auto s = scanwatch::agent::reparse_settings(7, argv, error);
    INFO(error);
    REQUIRE(s);
    return *s;
}

}  // namespace

TEST_CASE("Tool inodes: live sessions match a hard link; reload re-reads the folders; never in "
          "replay nor under --profile elastic",
          "[tool_inodes]") {
    using scanwatch::agent::Input;
    using scanwatch::agent::Session;
    TempDir dir;
    const std::string tool = dir.write("tools/ping", "#!/bin/true\n");
    const std::string pong = dir.path() + "/pong";
    REQUIRE(::link(tool.c_str(), pong.c_str()) == 0);
    const FileIdentity file = identity_of(pong);
    const std::string empty_folder = dir.path() + "/none";
    std::filesystem::create_directory(empty_folder);

    SECTION("tail: no tool in the folders, no alert; after a reload that finds it, one") {
        const std::string alerts = dir.path() + "/alerts.ndjson";
        Session session(settings_for(dir, alerts, empty_folder), Input::tail);
        session.pipeline().feed(pong_sweep(pong, file, 0));
        session.pipeline().finish();
        session.flush_outputs();
        CHECK(alert_lines(alerts) == 0);
        REQUIRE(session.reload(settings_for(dir, alerts, dir.path() + "/tools")));
        session.pipeline().feed(pong_sweep(pong, file, 1000));
        session.pipeline().finish();
        session.close();
        CHECK(alert_lines(alerts) == 1);
    }
    for (const auto& [input, profile] :
         {std::pair{Input::replay, "hardened"}, std::pair{Input::dispatcher, "elastic"}}) {
        SECTION(std::string("no match: ") + profile) {
            const std::string alerts = dir.path() + "/alerts-" + profile + ".ndjson";
            Session session(settings_for(dir, alerts, dir.path() + "/tools", profile), input);
            session.pipeline().feed(pong_sweep(pong, file, 0));
            session.pipeline().finish();
            session.close();
            CHECK(alert_lines(alerts) == 0);
        }
    }
    SECTION("dispatcher (plugin, socket), hardened: one alert") {
        const std::string alerts = dir.path() + "/alerts-plugin.ndjson";
        Session session(settings_for(dir, alerts, dir.path() + "/tools"), Input::dispatcher);
        session.pipeline().feed(pong_sweep(pong, file, 0));
        session.pipeline().finish();
        session.close();
        CHECK(alert_lines(alerts) == 1);
    }
}
