#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/sources/tail_reader.h"

using scanwatch::agent::FileId;
using scanwatch::agent::TailPosition;
using scanwatch::agent::TailReader;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        char tmpl[] = "/tmp/scanwatch-tail-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(dir); }
    std::string log() const { return (dir / "audit.log").string(); }
};

void append(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

// Polls and collects everything read, plus the switches it reported.
struct Collector {
    std::string data;
    std::vector<std::string> switches;
    void poll(TailReader& r) {
        r.poll([&](std::string_view d, std::uint64_t) { data.append(d); },
               [&](const std::string& name, FileId, std::string_view why) {
                   switches.push_back(fs::path(name).filename().string() + " " + std::string(why));
               });
    }
};

std::string lines(int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) out += "line " + std::to_string(i) + "\n";
    return out;
}

}  // namespace

TEST_CASE("Tail: reads what is there, then what is appended, partial lines included", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 3));
    TailReader r(t.log(), 7);
    std::string error;
    REQUIRE(r.start(std::nullopt, false, error));
    Collector c;
    c.poll(r);
    CHECK(c.data == lines(0, 3));
    append(t.log(), "line 3\nline 4 is half");
    c.poll(r);
    append(t.log(), " written\n");
    c.poll(r);
    CHECK(c.data == lines(0, 4) + "line 4 is half written\n");
    CHECK(r.position().offset == c.data.size());
}

TEST_CASE("Tail: --from-end skips what is there", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 3));
    TailReader r(t.log());
    std::string error;
    REQUIRE(r.start(std::nullopt, true, error));
    Collector c;
    c.poll(r);
    append(t.log(), lines(3, 5));
    c.poll(r);
    CHECK(c.data == lines(3, 5));
}

TEST_CASE("Tail: rename rotation drains the old file, then follows the new one", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 2));
    TailReader r(t.log());
    std::string error;
    REQUIRE(r.start(std::nullopt, false, error));
    Collector c;
    c.poll(r);
    append(t.log(), lines(2, 4));              // written before the rename, not read yet
    fs::rename(t.log(), t.log() + ".1");       // auditd: rename, then a new file
    append(t.log() + ".1", lines(4, 5));       // a last write that landed in the old file
    append(t.log(), lines(5, 7));
    c.poll(r);
    CHECK(c.data == lines(0, 7));
    CHECK(c.switches == std::vector<std::string>{"audit.log rotated"});
}

TEST_CASE("Tail: several rotations between polls are read in order", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 1));
    TailReader r(t.log());
    std::string error;
    REQUIRE(r.start(std::nullopt, false, error));
    Collector c;
    c.poll(r);
    for (int k = 1; k <= 3; ++k) {
        append(t.log(), lines(k * 10 - 9, k * 10));
        for (int n = k - 1; n >= 1; --n) fs::rename(t.log() + "." + std::to_string(n), t.log() + "." + std::to_string(n + 1));
        fs::rename(t.log(), t.log() + ".1");
        append(t.log(), "");
    }
    append(t.log(), lines(30, 32));
    c.poll(r);
    CHECK(c.data == lines(0, 1) + lines(1, 10) + lines(11, 20) + lines(21, 30) + lines(30, 32));
}

TEST_CASE("Tail: a restart finds its file by inode among the rotated set", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 5));
    TailPosition saved;
    {
        TailReader r(t.log());
        std::string error;
        REQUIRE(r.start(std::nullopt, false, error));
        Collector c;
        c.poll(r);
        saved = r.position();
        saved.offset = lines(0, 3).size();  // as if we had handled 3 lines when we stopped
    }
    // While we were down: two more lines, then two rotations.
    append(t.log(), lines(5, 7));
    fs::rename(t.log(), t.log() + ".1");
    append(t.log(), lines(7, 9));
    fs::rename(t.log() + ".1", t.log() + ".2");
    fs::rename(t.log(), t.log() + ".1");
    append(t.log(), lines(9, 10));
    TailReader r(t.log());
    std::string error;
    REQUIRE(r.start(saved, false, error));
    CHECK(error.empty());
    Collector c;
    c.poll(r);
    CHECK(c.data == lines(3, 10));
}

TEST_CASE("Tail: copytruncate reads the missed tail from the copy, then the file from 0", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 3));
    TailReader r(t.log());
    std::string error;
    REQUIRE(r.start(std::nullopt, false, error));
    Collector c;
    c.poll(r);
    append(t.log(), lines(3, 5));  // not read before the copy
    fs::copy_file(t.log(), t.log() + ".1");
    fs::resize_file(t.log(), 0);
    append(t.log(), lines(5, 6));
    c.poll(r);
    CHECK(c.data == lines(0, 6));
}

TEST_CASE("Tail: a deleted file is waited for and read from its start when it comes back", "[tail]") {
    TempDir t;
    append(t.log(), lines(0, 2));
    TailReader r(t.log());
    std::string error;
    REQUIRE(r.start(std::nullopt, false, error));
    Collector c;
    c.poll(r);
    append(t.log(), lines(2, 3));
    fs::remove(t.log());
    c.poll(r);  // drains the deleted file through its open descriptor, then waits
    CHECK(c.data == lines(0, 3));
    REQUIRE(c.switches.size() == 1);
    CHECK(c.switches[0].find("waiting") != std::string::npos);
    append(t.log(), lines(3, 4));
    c.poll(r);
    CHECK(c.data == lines(0, 4));
}

TEST_CASE("Tail: an unreadable folder is waited out", "[tail]") {
    // root reads any folder, and the suite runs as root (README): the case runs in a child that
    // drops to nobody first, so it runs, and can fail, whoever starts the suite.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int code = 0;
        try {
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
            TempDir t;
            append(t.log(), lines(0, 1));
            TailReader r(t.log());
            std::string error;
            if (!r.start(std::nullopt, false, error)) ::_exit(11);
            Collector c;
            c.poll(r);
            fs::permissions(t.dir, fs::perms::none);
            // Unreadable now (the reason the case exists): a fresh open must fail.
            if (std::ifstream(t.log()).good()) code = 12;
            c.poll(r);
            fs::permissions(t.dir, fs::perms::owner_all);
            append(t.log(), lines(1, 2));
            c.poll(r);
            if (code == 0 && c.data != lines(0, 2)) code = 13;
        } catch (...) {
            code = 14;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    // 10: cannot drop root; 11: cannot start; 12: the folder stayed readable; 13: wrong data.
    CHECK(WEXITSTATUS(status) == 0);
}
