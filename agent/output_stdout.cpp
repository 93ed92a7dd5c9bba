#include "agent/output_stdout.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

constexpr std::size_t kFlushAt = 64 * 1024;      // buffered lines are written in chunks this big
constexpr std::size_t kMaxBuffer = 1024 * 1024;  // and stop taking lines past this when failing

// Alerts and events may both go to stdout from two writer threads: a chunk is written whole
// before the other thread's.
std::mutex& stdout_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace

StdoutOutput::StdoutOutput(std::string spec, bool flush_each_line)
    : Output(std::move(spec)), flush_each_line_(flush_each_line) {}

StdoutOutput::~StdoutOutput() {
    std::string ignored;
    drain(ignored);
}

bool StdoutOutput::drain(std::string& error) {
    std::lock_guard<std::mutex> lock(stdout_mutex());
    std::size_t done = 0;
    bool ok = true;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(STDOUT_FILENO, buffer_.data() + done, buffer_.size() - done);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        error = fmt::format("cannot write: {}", std::strerror(errno));
        ok = false;
        break;
    }
    buffer_.erase(0, done);
    return ok;
}

WriteResult StdoutOutput::write(std::string_view line,
                                std::chrono::system_clock::time_point /*time*/,
                                std::string& error) {
    // What a failed write left (at most the tail of one line when flushing each line) goes first.
    if ((flush_each_line_ && !buffer_.empty()) || buffer_.size() >= kMaxBuffer) {
        if (!drain(error)) return WriteResult::failed;
    }
    const std::size_t before = buffer_.size();
    buffer_.append(line);
    buffer_.push_back('\n');
    if (!flush_each_line_ && buffer_.size() < kFlushAt) return WriteResult::ok;
    if (drain(error)) return WriteResult::ok;
    if (flush_each_line_ && buffer_.size() == line.size() + 1) {
        // Nothing of this line was written: give it back to be kept and retried whole.
        buffer_.resize(before);
        return WriteResult::failed;
    }
    // Part of it is out (or, buffered, the line is taken): the rest goes first next time.
    return WriteResult::ok;
}

bool StdoutOutput::flush(std::string& error) {
    return drain(error);
}

std::size_t StdoutOutput::unwritten_lines() const {
    return static_cast<std::size_t>(std::count(buffer_.begin(), buffer_.end(), '\n'));
}

}  // namespace scanwatch::agent
