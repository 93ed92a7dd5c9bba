#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "agent/outputs/output_file.h"
#include "agent/outputs/safe_open.h"
#include "agent/sources/state_file.h"

using namespace scanwatch::agent;
namespace fs = std::filesystem;

namespace {

// A fresh folder with `mode`, and a "secret" 0600 file outside it that a planted symlink aims at.
struct Planted {
    fs::path root;
    fs::path dir;
    fs::path secret;

    explicit Planted(mode_t mode) {
        char name[] = "/tmp/scanwatch_safe_open.XXXXXX";
        root = ::mkdtemp(name);
        dir = root / "shared";
        fs::create_directory(dir);
        REQUIRE(::chmod(dir.c_str(), mode) == 0);
        secret = root / "secret";
        std::ofstream(secret) << "root only\n";
        REQUIRE(::chmod(secret.c_str(), 0600) == 0);
    }
    ~Planted() { fs::remove_all(root); }

    std::string secret_text() const {
        std::ifstream in(secret);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

}  // namespace

TEST_CASE("Safe open: an output in a folder others can write, not sticky, is refused",
          "[outputs][symlink]") {
    Planted p(0777);
    const std::string path = (p.dir / "alerts.ndjson").string();
    fs::create_symlink(p.secret, path);
    try {
        FileOutput out("file:" + path, path, true);
        FAIL("opened");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("is not sticky") != std::string::npos);
    }
    CHECK(p.secret_text() == "root only\n");
    std::string error;
    CHECK(check_state_path((p.dir / "tail.state").string()).find("not sticky") != std::string::npos);
}

TEST_CASE("Safe open: in a sticky folder of root's a planted symlink or hard link is refused",
          "[outputs][symlink]") {
    Planted p(01777);
    const std::string link = (p.dir / "alerts.ndjson").string();
    fs::create_symlink(p.secret, link);
    CHECK_THROWS_WITH(FileOutput("file:" + link, link, true),
                      Catch::Contains("a symlink in a folder other users can write"));
    const std::string hard = (p.dir / "events.ndjson").string();
    fs::create_hard_link(p.secret, hard);
    CHECK_THROWS_WITH(FileOutput(hard, hard, false), Catch::Contains("one link"));
    CHECK(p.secret_text() == "root only\n");
    CHECK(check_state_path((p.dir / "tail.state").string()).empty());  // sticky and root's

    // A new output file is created 0640 (before the umask), never 0666.
    const mode_t old_umask = ::umask(0);
    const std::string fresh = (p.dir / "new.ndjson").string();
    {
        FileOutput out("file:" + fresh, fresh, true);
    }
    ::umask(old_umask);
    struct stat st {};
    REQUIRE(::stat(fresh.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("Safe open: tail's state never writes through a planted .tmp symlink",
          "[state][symlink]") {
    Planted p(01777);
    const std::string state = (p.dir / "tail.state").string();
    fs::create_symlink(p.secret, state + ".tmp");
    std::string error;
    REQUIRE(write_state(state, TailState{}, error));
    CHECK(p.secret_text() == "root only\n");  // before: truncated and overwritten with the state
    CHECK(fs::is_regular_file(fs::symlink_status(state)));
    CHECK_FALSE(fs::exists(fs::symlink_status(state + ".tmp")));

    // A folder made writable for others after start: the next save is refused, said.
    REQUIRE(::chmod(p.dir.c_str(), 0777) == 0);
    CHECK_FALSE(write_state(state, TailState{}, error));
    CHECK(error.find("not sticky") != std::string::npos);
}

TEST_CASE("Safe open: a folder of another user is refused, unless it is the --user we switch to",
          "[outputs][symlink]") {
    Planted p(0750);  // like /var/log/scanwatch: _scanwatch:_scanwatch 0750
    REQUIRE(::chown(p.dir.c_str(), 4321, 4321) == 0);
    const std::string path = (p.dir / "alerts.ndjson").string();
    CHECK_THROWS_WITH(FileOutput("file:" + path, path, true), Catch::Contains("belongs to uid 4321"));
    trust_user(4321, 4321);
    CHECK_NOTHROW(FileOutput("file:" + path, path, true));
    CHECK(check_state_path((p.dir / "tail.state").string()).empty());
    trust_user(0, 0);
}
