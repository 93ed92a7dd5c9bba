#pragma once
// Where NDJSON lines go: the fan-out over outputs (output.h; one file per kind: output_stdout.h,
// output_file.h, syslog_output.h). Each output keeps the lines it could not take in a bounded
// backlog and retries with backoff; a writer fans lines out to the outputs and, in live modes,
// does all of that on its own thread so that no output ever stalls the input.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/outputs/output.h"
#include "agent/outputs/output_spec.h"
#include "parsers/ecs/json_writer.h"

namespace scanwatch::agent {

/// Makes the output a parsed spec names. Files are opened now (std::runtime_error naming the
/// path when they cannot be); syslog connects on its first write. `flush_each_line` makes
/// stdout and files write each line at once (alerts); otherwise they write in chunks (events).
std::unique_ptr<Output> make_output(const OutputSpec& spec, bool flush_each_line = true);

/// Counters of one output, as the stats show them.
struct OutputCounts {
    std::uint64_t written = 0;  ///< lines written
    std::uint64_t failed = 0;   ///< write attempts that failed (each retry counts)
    std::uint64_t lost = 0;     ///< lines given up: backlog full, rejected, or still kept at exit
    std::uint64_t backlog = 0;  ///< lines kept now, waiting for the output to come back
};

/// Called with a message for the operator (an output failed, came back, dropped lines). Once
/// per change of state, never per line. May be called from the writer thread.
using OutputReport = std::function<void(const std::string&)>;

/// One output with its backlog. A line the output cannot take now waits, in order, with the
/// lines after it; the backlog is retried with a backoff from 100 ms doubling to 5 s, and when
/// it is full new lines are dropped and counted lost. Lines an output gives up (a full disk) are
/// counted lost, reported at most once a minute. Used by one thread at a time; counts() may be
/// read from any thread.
class OutputChannel {
public:
    using Clock = std::chrono::steady_clock;
    using WallClock = std::chrono::system_clock;

    OutputChannel(std::unique_ptr<Output> output, OutputReport report);

    /// Writes `line` now when the output is up and nothing waits before it; otherwise keeps it
    /// (or drops it, counted, when the backlog is full).
    void send(std::string_view line, WallClock::time_point time, Clock::time_point now);
    /// Writes the backlog out, in order, if its retry is due.
    void retry(Clock::time_point now);
    /// Makes the next retry due at once, with the shortest backoff (used when closing).
    void retry_soon(Clock::time_point now);
    /// When the next retry is due; nullopt when nothing waits.
    std::optional<Clock::time_point> next_retry() const;
    /// Flushes a buffered output; a failure is handled like a failed write.
    void flush(Clock::time_point now);
    /// Reopens the output (SIGHUP); a failure is reported. A failed output is retried at once.
    void reopen(Clock::time_point now);
    /// Gives up on the backlog: its lines are counted lost and reported. Returns how many.
    std::size_t abandon(std::string_view why);
    /// The counters now.
    OutputCounts counts() const;
    /// The output's spec, for messages and stats.
    const std::string& spec() const { return output_->spec(); }
    /// No write may block past `deadline` (Output::stop_by); any thread may call it.
    void stop_by(Clock::time_point deadline) { output_->stop_by(deadline); }

private:
    struct Kept {
        std::string line;
        WallClock::time_point time;
    };

    bool attempt(std::string_view line, WallClock::time_point time, Clock::time_point now);
    void went_down(const std::string& error, Clock::time_point now);
    void keep(std::string_view line, WallClock::time_point time);
    void update_backlog_count() { backlog_count_ = backlog_.size(); }
    void count_given_up(Clock::time_point now);

    std::unique_ptr<Output> output_;
    OutputReport report_;
    std::deque<Kept> backlog_;
    bool down_ = false;
    bool pending_flush_ = false;  // a flush failed: buffered bytes wait before any new line
    bool drop_reported_ = false;
    bool reject_reported_ = false;
    std::chrono::milliseconds backoff_;
    Clock::time_point next_retry_{};
    std::uint64_t failed_in_outage_ = 0;
    std::uint64_t lost_in_outage_ = 0;
    std::uint64_t given_up_unreported_ = 0;  // lost to a full disk since the last report
    std::optional<Clock::time_point> given_up_reported_;
    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<std::uint64_t> lost_{0};
    std::atomic<std::uint64_t> backlog_count_{0};
};

/// Fans lines out to several outputs. In `threaded` mode a writer thread does all output work
/// (writes, retries, reconnects) from a bounded queue: submit() never blocks; when the queue is
/// full the line is dropped and counted lost for every output. Otherwise submit() does the work
/// before it returns (replay), retrying a failed output only when its backoff is due.
class OutputWriter {
public:
    /// `report` receives failure and recovery messages; `close_grace` bounds how long close()
    /// keeps retrying outputs that still hold a backlog before counting it lost.
    OutputWriter(std::vector<std::unique_ptr<Output>> outputs, bool threaded,
                 OutputReport report = {}, std::size_t max_queue = 65536,
                 std::chrono::milliseconds close_grace = std::chrono::seconds(3));
    ~OutputWriter();
    OutputWriter(const OutputWriter&) = delete;
    OutputWriter& operator=(const OutputWriter&) = delete;

    /// Hands a line (without newline) to every output, stamped with the wall clock now.
    void submit(std::string line);
    /// The same for a line the caller keeps (a buffer it reuses): inline, nothing is allocated;
    /// threaded, the line is copied into the queue.
    void submit_view(std::string_view line);
    /// Asks every output to reopen (SIGHUP); done by the writer between lines.
    void reopen();
    /// Writes out what is queued, retries backlogs for at most `close_grace`, counts what is
    /// left as lost, then stops the thread. Idempotent.
    void close();
    /// Inline mode: writes out buffered lines now (tail checkpoints measure file sizes after
    /// it). Threaded mode: nothing; the writer thread flushes when its queue runs empty.
    void flush();

    /// Adds {"spec": {written, failed, lost, backlog}} entries for each output to an open JSON
    /// object.
    /// Each output's key is `key_prefix` + its spec (`events:` for the events outputs, so
    /// `--events -` beside stdout alerts gives two distinct keys).
    void stats_fields(JsonWriter& w, std::string_view key_prefix = {}) const;
    /// The counters of each output, in the order given.
    std::vector<OutputCounts> counts() const;
    /// True when a line was lost (dropped, rejected, or given up at close).
    bool had_failures() const;

private:
    struct Queued {
        std::string line;
        OutputChannel::WallClock::time_point time;
    };

    void run();
    void deliver(const Queued& q);
    void retry_all();
    void flush_all();
    void reopen_now();
    void drain_at_close(OutputChannel::Clock::time_point deadline);
    std::optional<OutputChannel::Clock::time_point> earliest_retry() const;

    std::vector<std::unique_ptr<OutputChannel>> channels_;
    bool threaded_;
    std::size_t max_queue_;
    std::chrono::milliseconds close_grace_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Queued> queue_;
    bool reopen_requested_ = false;
    bool stopping_ = false;
    bool closed_ = false;
    std::atomic<std::uint64_t> dropped_{0};  // queue full: lost for every output
    std::thread thread_;
};

}  // namespace scanwatch::agent
