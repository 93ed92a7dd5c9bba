#pragma once
// Where NDJSON lines go: stdout or a file (appended, reopened on request for logrotate), behind
// a writer that never lets a slow destination stall the input in live modes.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "parsers/json_writer.h"

namespace scanwatch::agent {

/// One destination: "-" (stdout) or "file:PATH" / a plain path (opened for append).
class LineOutput {
public:
    /// Opens the destination; throws std::runtime_error naming the path when it cannot.
    explicit LineOutput(std::string spec);
    ~LineOutput();
    LineOutput(const LineOutput&) = delete;
    LineOutput& operator=(const LineOutput&) = delete;

    /// Writes `line` and a newline; flushes when `flush` is set. False (and counted) on error.
    bool write(std::string_view line, bool flush);
    void flush();
    /// Closes and opens the file again (after logrotate renamed it); stdout is left alone.
    /// False, with the reason in `error`, when it cannot; the old stream is kept then.
    bool reopen(std::string& error);

    const std::string& spec() const { return spec_; }
    std::uint64_t written() const { return written_; }
    std::uint64_t failed() const { return failed_; }

private:
    std::string spec_;
    std::string path_;  // empty for stdout
    std::FILE* file_ = nullptr;
    std::atomic<std::uint64_t> written_{0};  // read by stats while the writer thread writes
    std::atomic<std::uint64_t> failed_{0};
};

/// Fans lines out to several outputs. In `threaded` mode a writer thread does the I/O from a
/// bounded queue: submit() never blocks; when the queue is full the line is dropped and counted
/// as lost. Otherwise submit() writes before it returns (replay: nothing is ever dropped).
class OutputWriter {
public:
    OutputWriter(std::vector<std::unique_ptr<LineOutput>> outputs, bool flush_each_line,
                 bool threaded, std::size_t max_queue = 65536);
    ~OutputWriter();
    OutputWriter(const OutputWriter&) = delete;
    OutputWriter& operator=(const OutputWriter&) = delete;

    /// Hands a line (without newline) to every output.
    void submit(std::string line);
    /// Asks every file output to reopen (SIGHUP); done by the writer between lines.
    void reopen();
    /// Writes out what is queued, then stops the thread. Idempotent.
    void close();

    /// Adds {"spec": {written, failed, lost}} entries for each output to an open JSON object.
    void stats_fields(JsonWriter& w) const;
    /// True when any write failed or a line was lost.
    bool had_failures() const;

private:
    void run();
    void write_now(const std::string& line);
    void reopen_now();

    std::vector<std::unique_ptr<LineOutput>> outputs_;
    bool flush_each_line_;
    bool threaded_;
    std::size_t max_queue_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> queue_;
    bool reopen_requested_ = false;
    bool stopping_ = false;
    std::uint64_t lost_ = 0;
    std::thread thread_;
};

}  // namespace scanwatch::agent
