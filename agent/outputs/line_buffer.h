#pragma once
// The buffering stdout and file outputs share: lines go into a buffer whole, a write(2) that
// stops short leaves the rest buffered to go first next time, so a line is never torn or
// written twice (docs/outputs.md).

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>

#include "agent/outputs/output.h"

namespace scanwatch::agent {

inline constexpr std::size_t kLineFlushAt = 64 * 1024;      ///< buffered lines go out in chunks this big
inline constexpr std::size_t kLineMaxBuffer = 1024 * 1024;  ///< no line is taken past this while failing

/// Output::write for a line buffer: appends `line` and a newline to `buffer` and, with
/// `flush_each_line` or a full chunk, calls `drain(error)` (writes the buffer out, keeping what it
/// could not write). Fails, keeping nothing of the line, when none of it could be written.
template <typename Drain>
WriteResult write_buffered(std::string& buffer, std::string_view line, bool flush_each_line,
                           std::string& error, Drain&& drain) {
    // What a failed write left (at most the tail of one line when flushing each line) goes first.
    if ((flush_each_line && !buffer.empty()) || buffer.size() >= kLineMaxBuffer) {
        if (!drain(error)) return WriteResult::failed;
    }
    const std::size_t before = buffer.size();
    buffer.append(line);
    buffer.push_back('\n');
    if (!flush_each_line && buffer.size() < kLineFlushAt) return WriteResult::ok;
    if (drain(error)) return WriteResult::ok;
    if (flush_each_line && buffer.size() == line.size() + 1) {
        // Nothing of this line was written (not for lack of room): give it back to be kept and
        // retried whole.
        buffer.resize(before);
        return WriteResult::failed;
    }
    // Part of it is out (or, buffered, the line is taken): the rest goes first next time.
    return WriteResult::ok;
}

/// Writes `buffer` to `fd` until all of it is written or a write(2) fails (EINTR is retried).
/// Returns how many bytes were written; `err` is the failure's errno, 0 when all were.
inline std::size_t write_all(int fd, const std::string& buffer, int& err) {
    std::size_t done = 0;
    err = 0;
    while (done < buffer.size()) {
        const ssize_t n = ::write(fd, buffer.data() + done, buffer.size() - done);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
        } else if (errno != EINTR) {
            err = errno;
            break;
        }
    }
    return done;
}

/// Whole lines in a line buffer.
inline std::size_t buffered_lines(const std::string& buffer) {
    return static_cast<std::size_t>(std::count(buffer.begin(), buffer.end(), '\n'));
}

}  // namespace scanwatch::agent
