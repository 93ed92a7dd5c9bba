#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "agent/outputs/output_file.h"
#include "agent/outputs/output_channel.h"

using namespace scanwatch::agent;
using namespace std::chrono_literals;
using Clock = OutputChannel::Clock;

namespace {

// What a fake output saw, shared with the test after the output moved into a channel.
struct FakeState {
    std::mutex mutex;
    std::vector<std::string> written;
    std::size_t attempts = 0;
    bool up = true;
    bool refuse_late = false;  // report a late refusal of the line written last
    std::size_t reject_longer_than = 1000;
};

class FakeOutput final : public Output {
public:
    FakeOutput(std::shared_ptr<FakeState> s, std::size_t max_backlog)
        : Output("fake", max_backlog), s_(std::move(s)) {}
    WriteResult write(std::string_view line, std::chrono::system_clock::time_point,
                      std::string& error) override {
        std::lock_guard<std::mutex> lock(s_->mutex);
        ++s_->attempts;
        if (line.size() > s_->reject_longer_than) {
            error = "too large";
            return WriteResult::rejected;
        }
        if (!s_->up) {
            error = "down";
            return WriteResult::failed;
        }
        s_->written.emplace_back(line);
        return WriteResult::ok;
    }
    // Like UDP: the line written last turns out refused and is held for the next flush.
    bool flush(std::string& error) override {
        std::lock_guard<std::mutex> lock(s_->mutex);
        if (s_->refuse_late) {
            s_->refuse_late = false;
            held_ = s_->written.back();
            s_->written.pop_back();  // it never arrived
        }
        if (!held_.empty() && s_->up) {
            s_->written.push_back(std::move(held_));
            held_.clear();
        }
        if (held_.empty()) return true;
        error = "refused";
        return false;
    }
    std::size_t unwritten_lines() const override { return held_.empty() ? 0 : 1; }

private:
    std::shared_ptr<FakeState> s_;
    std::string held_;
};

struct Reports {
    std::vector<std::string> messages;
    OutputReport sink() {
        return [this](const std::string& m) { messages.push_back(m); };
    }
};

std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(fmt::format("line {}", i));
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

OutputSpec spec(const std::string& text, bool events = false) {
    std::string error;
    auto parsed = events ? parse_events_spec(text, error) : parse_output_spec(text, error);
    REQUIRE(parsed);
    return *parsed;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            fmt::format("scanwatch-{}-{}", ::getpid(), name))
        .string();
}

}  // namespace

TEST_CASE("Output channel: lines go straight through while the output is up", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    Reports reports;
    OutputChannel c(std::make_unique<FakeOutput>(s, 10), reports.sink());
    const auto t0 = Clock::now();
    for (const auto& l : numbered(0, 3)) c.send(l, {}, t0);
    CHECK(s->written == numbered(0, 3));
    CHECK(c.counts().written == 3);
    CHECK(c.counts().failed == 0);
    CHECK(!c.next_retry());
    CHECK(reports.messages.empty());
}

TEST_CASE("Output channel: a failed output keeps lines in order and resends them", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    Reports reports;
    OutputChannel c(std::make_unique<FakeOutput>(s, 10), reports.sink());
    const auto t0 = Clock::now();
    c.send("line 0", {}, t0);
    s->up = false;
    for (const auto& l : numbered(1, 6)) c.send(l, {}, t0);
    // One attempt failed; the later lines wait behind it without being tried.
    CHECK(s->attempts == 2);
    CHECK(c.counts().failed == 1);
    CHECK(c.counts().backlog == 5);
    REQUIRE(c.next_retry());
    CHECK(*c.next_retry() == t0 + 100ms);
    REQUIRE(reports.messages.size() == 1);
    CHECK(reports.messages[0] == "output fake failed: down; keeping up to 10 lines and retrying");

    c.retry(t0 + 50ms);  // not due yet
    CHECK(s->attempts == 2);
    c.retry(t0 + 100ms);  // due, still down: the backoff doubles
    CHECK(s->attempts == 3);
    CHECK(*c.next_retry() == t0 + 300ms);
    c.retry(t0 + 300ms);
    CHECK(*c.next_retry() == t0 + 700ms);
    CHECK(reports.messages.size() == 1);  // reported once

    s->up = true;
    c.send("line 6", {}, t0 + 400ms);  // still behind the backlog
    c.retry(t0 + 700ms);
    CHECK(s->written == numbered(0, 7));
    CHECK(c.counts().written == 7);
    CHECK(c.counts().failed == 3);
    CHECK(c.counts().lost == 0);
    CHECK(c.counts().backlog == 0);
    CHECK(!c.next_retry());
    REQUIRE(reports.messages.size() == 2);
    CHECK(reports.messages[1] ==
          "output fake is back after 3 failed attempts; its backlog is sent");
}

TEST_CASE("Output channel: the backoff grows to 5 s and starts over after a recovery",
          "[outputs]") {
    auto s = std::make_shared<FakeState>();
    OutputChannel c(std::make_unique<FakeOutput>(s, 10), {});
    auto now = Clock::now();
    s->up = false;
    c.send("x", {}, now);
    std::vector<long> gaps;
    for (int i = 0; i < 9; ++i) {
        const auto due = *c.next_retry();
        gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count());
        now = due;
        c.retry(now);
    }
    CHECK(gaps == std::vector<long>{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000});
    s->up = true;
    c.retry(*c.next_retry());
    s->up = false;
    c.send("y", {}, now);
    CHECK(*c.next_retry() == now + 100ms);
}

TEST_CASE("Output channel: the backlog is bounded; only dropped lines are lost", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    Reports reports;
    OutputChannel c(std::make_unique<FakeOutput>(s, 3), reports.sink());
    const auto t0 = Clock::now();
    s->up = false;
    for (const auto& l : numbered(0, 8)) c.send(l, {}, t0);
    CHECK(c.counts().backlog == 3);
    CHECK(c.counts().lost == 5);
    CHECK(c.counts().failed == 1);
    REQUIRE(reports.messages.size() == 2);
    CHECK(reports.messages[1] ==
          "output fake: backlog full (3 lines); new lines are dropped and counted as lost until it "
          "is back");
    s->up = true;
    c.retry(t0 + 1s);
    // The oldest lines were kept: what arrives is a prefix, and the gap is counted.
    CHECK(s->written == numbered(0, 3));
    CHECK(c.counts().written == 3);
    CHECK(c.counts().lost == 5);
    CHECK(reports.messages.back() ==
          "output fake is back after 1 failed attempt; its backlog is sent, 5 lines lost");
}

TEST_CASE("Output channel: a zero backlog loses every line the output cannot take", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    OutputChannel c(std::make_unique<FakeOutput>(s, 0), {});
    s->up = false;
    for (const auto& l : numbered(0, 4)) c.send(l, {}, Clock::now());
    CHECK(c.counts().lost == 4);
    CHECK(c.counts().backlog == 0);
}

TEST_CASE("Output channel: a line that can never be sent is lost, not retried", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    s->reject_longer_than = 10;
    Reports reports;
    OutputChannel c(std::make_unique<FakeOutput>(s, 10), reports.sink());
    c.send(std::string(20, 'x'), {}, Clock::now());
    c.send(std::string(30, 'x'), {}, Clock::now());
    c.send("short", {}, Clock::now());
    CHECK(c.counts().lost == 2);
    CHECK(c.counts().written == 1);
    CHECK(c.counts().backlog == 0);
    CHECK(!c.next_retry());
    CHECK(reports.messages.size() == 1);
}

TEST_CASE("Output channel: a line the output holds after a late refusal goes first, or is lost",
          "[outputs]") {
    auto s = std::make_shared<FakeState>();
    Reports reports;
    OutputChannel c(std::make_unique<FakeOutput>(s, 10), reports.sink());
    const auto t0 = Clock::now();
    c.send("line 0", {}, t0);
    c.send("line 1", {}, t0);
    s->refuse_late = true;  // "line 1" never arrived, as the next flush finds out
    s->up = false;
    c.flush(t0);
    c.send("line 2", {}, t0);
    CHECK(c.counts().backlog == 1);
    s->up = true;
    c.retry(t0 + 1s);
    CHECK(s->written == numbered(0, 3));  // in order: the held line first
    CHECK(c.counts().written == 3);
    CHECK(c.counts().lost == 0);

    s->refuse_late = true;  // "line 2" refused, and the receiver stays down until exit
    s->up = false;
    c.flush(t0 + 2s);
    CHECK(c.abandon("at exit") == 1);
    CHECK(c.counts().written == 2);
    CHECK(c.counts().lost == 1);
}

TEST_CASE("Output channel: abandon counts the backlog as lost", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    Reports reports;
    OutputChannel c(std::make_unique<FakeOutput>(s, 10), reports.sink());
    s->up = false;
    for (const auto& l : numbered(0, 4)) c.send(l, {}, Clock::now());
    CHECK(c.abandon("at exit") == 4);
    CHECK(c.counts().lost == 4);
    CHECK(c.counts().backlog == 0);
    CHECK(reports.messages.back() == "output fake: 4 lines lost at exit");
}

TEST_CASE("Output writer: inline, a dead output gives up after the grace period", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    s->up = false;
    std::vector<std::unique_ptr<Output>> outs;
    outs.push_back(std::make_unique<FakeOutput>(s, 100));
    Reports reports;
    OutputWriter w(std::move(outs), false, reports.sink(), 65536, 300ms);
    const auto t0 = Clock::now();
    for (const auto& l : numbered(0, 50)) w.submit(l);
    CHECK(Clock::now() - t0 < 200ms);  // submit never waits for a retry
    w.close();
    const auto spent = Clock::now() - t0;
    CHECK(spent >= 300ms);
    CHECK(spent < 2s);
    const auto n = w.counts().at(0);
    CHECK(n.written == 0);
    CHECK(n.lost == 50);
    CHECK(n.backlog == 0);
    CHECK(n.failed >= 2);
    CHECK(w.had_failures());
    std::string stats;
    scanwatch::JsonWriter j(stats);
    j.begin_object();
    w.stats_fields(j);
    j.end_object();
    CHECK(stats ==
          fmt::format(R"({{"fake":{{"written":0,"failed":{},"lost":50,"backlog":0}}}})", n.failed));
    CHECK(reports.messages.size() == 2);  // failed, then lost at exit
}

TEST_CASE("Output writer: threaded, an output that comes back gets every line in order",
          "[outputs]") {
    auto s = std::make_shared<FakeState>();
    s->up = false;
    std::vector<std::unique_ptr<Output>> outs;
    outs.push_back(std::make_unique<FakeOutput>(s, 1000));
    OutputWriter w(std::move(outs), true);
    for (const auto& l : numbered(0, 100)) w.submit(l);
    std::this_thread::sleep_for(150ms);
    {
        std::lock_guard<std::mutex> lock(s->mutex);
        s->up = true;
    }
    for (const auto& l : numbered(100, 200)) w.submit(l);
    // The writer thread retries on its own, without new lines or close().
    const auto deadline = Clock::now() + 5s;
    while (w.counts().at(0).written < 200 && Clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    CHECK(w.counts().at(0).written == 200);
    w.close();
    CHECK(s->written == numbered(0, 200));
    CHECK(w.counts().at(0).lost == 0);
    CHECK(!w.had_failures());
}

TEST_CASE("Output writer: threaded, a full queue drops lines for every output", "[outputs]") {
    auto s = std::make_shared<FakeState>();
    std::vector<std::unique_ptr<Output>> outs;
    outs.push_back(std::make_unique<FakeOutput>(s, 10));
    std::unique_lock<std::mutex> hold(s->mutex);  // the writer thread blocks in its first write
    OutputWriter w(std::move(outs), true, {}, 4);
    w.submit("first");
    std::this_thread::sleep_for(50ms);
    for (const auto& l : numbered(0, 10)) w.submit(l);
    hold.unlock();
    w.close();
    CHECK(w.counts().at(0).written == 5);
    CHECK(w.counts().at(0).lost == 6);
}

TEST_CASE("File output: appends whole lines and reopens after a rename", "[outputs]") {
    const auto path = temp_path("alerts.ndjson");
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".1");
    {
        auto out = make_output(spec("file:" + path));
        std::string error;
        CHECK(out->write("one", {}, error) == WriteResult::ok);
        std::filesystem::rename(path, path + ".1");
        CHECK(out->write("two", {}, error) == WriteResult::ok);  // still the renamed file
        CHECK(out->reopen(error));
        CHECK(out->write("three", {}, error) == WriteResult::ok);
    }
    CHECK(read_file(path + ".1") == "one\ntwo\n");
    CHECK(read_file(path) == "three\n");
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".1");
}

TEST_CASE("File output: buffered lines reach the file on flush", "[outputs]") {
    const auto path = temp_path("events.ndjson");
    std::filesystem::remove(path);
    auto out = make_output(spec(path, true), false);
    std::string error;
    CHECK(out->write("a", {}, error) == WriteResult::ok);
    CHECK(out->unwritten_lines() == 1);
    CHECK(read_file(path).empty());
    CHECK(out->flush(error));
    CHECK(out->unwritten_lines() == 0);
    CHECK(read_file(path) == "a\n");
    std::filesystem::remove(path);
}

TEST_CASE("File output: a full disk loses lines, counted and reported, never kept as written",
          "[outputs]") {
    if (!std::filesystem::exists("/dev/full")) return;  // every write: ENOSPC
    Reports reports;
    OutputChannel c(make_output(spec("file:/dev/full")), reports.sink());
    const auto t0 = Clock::now();
    for (const auto& l : numbered(0, 3)) c.send(l, {}, t0);
    c.send("later", {}, t0 + 61s);
    CHECK(c.counts().written == 0);
    CHECK(c.counts().lost == 4);
    CHECK(c.counts().backlog == 0);
    CHECK(!c.next_retry());  // later lines are tried as they come, not held back
    REQUIRE(reports.messages.size() == 2);  // once, then again after a minute: rate-limited
    CHECK(reports.messages[0] ==
          "output file:/dev/full: cannot write /dev/full: No space left on device; 1 line lost, "
          "later lines are still tried (said at most once a minute)");
    CHECK(reports.messages[1].find("; 3 lines lost") != std::string::npos);
}

namespace {

// A file size limit stands in for a full disk: past it write(2) is short, then fails with
// EFBIG (SIGXFSZ ignored). Restores the limit and the signal.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &saved_);
        old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
        set(bytes);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        ::signal(SIGXFSZ, old_handler_);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
    void set(rlim_t bytes) {
        rlimit l = saved_;
        l.rlim_cur = std::min(bytes, saved_.rlim_max);
        ::setrlimit(RLIMIT_FSIZE, &l);
    }
    void lift() { ::setrlimit(RLIMIT_FSIZE, &saved_); }

private:
    rlimit saved_{};
    void (*old_handler_)(int) = nullptr;
};

}  // namespace

TEST_CASE("File output: a line torn by a full disk is cut off; later lines land whole",
          "[outputs]") {
    const auto path = temp_path("torn.ndjson");
    std::filesystem::remove(path);
    Reports reports;
    OutputChannel c(make_output(spec("file:" + path)), reports.sink());
    const auto now = Clock::now();
    {
        FileSizeLimit limit(50);
        c.send(std::string(19, 'a'), {}, now);  // 20 bytes
        c.send(std::string(19, 'b'), {}, now);  // 40
        c.send(std::string(19, 'c'), {}, now);  // 10 bytes fit, then EFBIG: cut back to 40
        CHECK(read_file(path) == std::string(19, 'a') + "\n" + std::string(19, 'b') + "\n");
        c.send("d", {}, now);  // fits: the disk has room for it
        limit.lift();          // the disk frees up
        c.send(std::string(19, 'e'), {}, now);
    }
    CHECK(read_file(path) == std::string(19, 'a') + "\n" + std::string(19, 'b') + "\nd\n" +
                                 std::string(19, 'e') + "\n");
    CHECK(c.counts().written == 4);
    CHECK(c.counts().lost == 1);
    REQUIRE(reports.messages.size() == 1);
    CHECK(reports.messages[0].find("cannot write " + path + ": File too large; 1 line lost") !=
          std::string::npos);
    std::filesystem::remove(path);
}

TEST_CASE("File output: buffered lines count as written only when they reached the file",
          "[outputs]") {
    const auto path = temp_path("events-full.ndjson");
    std::filesystem::remove(path);
    OutputChannel c(make_output(spec(path, true), false), {});
    const auto now = Clock::now();
    {
        FileSizeLimit limit(50);
        for (int i = 0; i < 5; ++i) c.send(std::string(19, static_cast<char>('a' + i)), {}, now);
        CHECK(read_file(path).empty());  // buffered
        c.flush(now);                    // 50 bytes fit: two whole lines and a torn third
    }
    CHECK(read_file(path) == std::string(19, 'a') + "\n" + std::string(19, 'b') + "\n");
    CHECK(c.counts().written == 2);
    CHECK(c.counts().lost == 3);
    CHECK(c.abandon("at exit") == 0);  // nothing kept: the lost lines are not lost twice
    CHECK(c.counts().lost == 3);
    std::filesystem::remove(path);
}

TEST_CASE("File output: a file that cannot be opened is named", "[outputs]") {
    CHECK_THROWS_WITH(make_output(spec("file:/nonexistent/dir/alerts.ndjson")),
                      "cannot open /nonexistent/dir/alerts.ndjson: No such file or directory");
}
