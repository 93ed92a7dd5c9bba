#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/sandbox/seccomp_filter.h"
#include "agent/settings.h"

using scanwatch::agent::install_seccomp_filter;
using scanwatch::agent::Mode;
using scanwatch::agent::reparse_settings;
using scanwatch::agent::Settings;

namespace {

// Runs `body` in a forked child with the filter installed; returns the child's wait status.
template <typename Body>
int in_filtered_child(Body body) {
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        try {
            install_seccomp_filter();
        } catch (...) {
            ::_exit(90);
        }
        ::_exit(body());
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    return status;
}

std::optional<Settings> parse(std::vector<std::string> args, std::string config_text = {}) {
    std::string config = "/dev/null";
    if (!config_text.empty()) {
        config = "/tmp/scanwatch-seccomp-test.toml";
        std::ofstream(config) << config_text;
    }
    args.insert(args.begin(), "scanwatch");
    args.push_back("--config=" + config);
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::string error;
    auto s = reparse_settings(static_cast<int>(argv.size()), argv.data(), error);
    if (!config_text.empty()) std::remove(config.c_str());
    return s;
}

}  // namespace

TEST_CASE("seccomp: the live modes' calls pass, threads start, a forbidden call kills with SIGSYS", "[seccomp]") {
    // What a run does after the filter: files (write, fsync, rename, unlink), a socket, a thread.
    const int fine = in_filtered_child([] {
        char path[] = "/tmp/scanwatch-seccomp-XXXXXX";
        const int fd = ::mkstemp(path);
        if (fd < 0 || ::write(fd, "x\n", 2) != 2 || ::fsync(fd) != 0) return 1;
        ::close(fd);
        const std::string moved = std::string(path) + ".1";
        if (::rename(path, moved.c_str()) != 0 || ::unlink(moved.c_str()) != 0) return 2;
        const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int on = 1;
        if (s < 0 || ::ioctl(s, FIONBIO, &on) != 0) return 3;  // what Boost.Asio does
        ::close(s);
        int value = 0;
        std::thread worker([&value] { value = 42; });  // clone3 refused: glibc falls back to clone
        worker.join();
        return value == 42 ? 0 : 4;
    });
    CHECK(WIFEXITED(fine));
    CHECK(WEXITSTATUS(fine) == 0);

    const int exec = in_filtered_child([] {
        ::syscall(SYS_execveat, -1, "", nullptr, nullptr, AT_EMPTY_PATH);
        return 0;
    });
    CHECK(WIFSIGNALED(exec));
    CHECK(WTERMSIG(exec) == SIGSYS);

    // Pushing input into a terminal (TIOCSTI): not one of the ioctls allowed.
    const int tiocsti = in_filtered_child([] {
        char c = 'x';
        ::ioctl(STDIN_FILENO, TIOCSTI, &c);
        return 0;
    });
    CHECK(WIFSIGNALED(tiocsti));
    CHECK(WTERMSIG(tiocsti) == SIGSYS);

    if (!scanwatch::agent::seccomp_sanitizer_build()) {
        const int fork_child = in_filtered_child([] { return ::fork() >= 0 ? 0 : 5; });
        CHECK(WIFSIGNALED(fork_child));
        CHECK(WTERMSIG(fork_child) == SIGSYS);
    }
}

TEST_CASE("seccomp: on by default, off with --no-seccomp or seccomp = false", "[seccomp]") {
    CHECK(parse({"plugin"})->seccomp);
    CHECK_FALSE(parse({"plugin", "--no-seccomp"})->seccomp);
    CHECK_FALSE(parse({"plugin"}, "seccomp = false\n")->seccomp);
    CHECK(parse({"plugin"}, "seccomp = true\n")->seccomp);
}

TEST_CASE("doctor: the subcommand with --json and --input", "[doctor]") {
    const auto plain = parse({"doctor"});
    REQUIRE(plain);
    CHECK(plain->mode == Mode::doctor);
    CHECK_FALSE(plain->doctor_json);
    CHECK(plain->doctor_input == Mode::plugin);
    const auto json = parse({"--rules", "rules/builtin", "doctor", "--json", "--input", "socket"});
    REQUIRE(json);
    CHECK(json->doctor_json);
    CHECK(json->doctor_input == Mode::socket);
    CHECK(json->rules == std::vector<std::string>{"rules/builtin"});
    CHECK_FALSE(parse({"doctor", "--input", "replay"}));
}
