#include "agent/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

constexpr std::size_t kFlushAt = 64 * 1024;      // buffered files write in chunks this big
constexpr std::size_t kMaxBuffer = 1024 * 1024;  // and stop taking lines past this when failing

}  // namespace

FileOutput::FileOutput(std::string spec, std::string path, bool flush_each_line)
    : Output(std::move(spec)), path_(std::move(path)), flush_each_line_(flush_each_line) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd_ < 0)
        throw std::runtime_error(fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
}

FileOutput::~FileOutput() {
    std::string ignored;
    drain(ignored);
    ::close(fd_);
}

bool FileOutput::drain(std::string& error) {
    std::size_t done = 0;
    bool ok = true;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
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

WriteResult FileOutput::write(std::string_view line, std::chrono::system_clock::time_point /*time*/,
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
        // Nothing of this line reached the file: give it back to be kept and retried whole.
        buffer_.resize(before);
        return WriteResult::failed;
    }
    // Part of it is in the file (or, buffered, the line is taken): the rest goes first next time.
    return WriteResult::ok;
}

bool FileOutput::flush(std::string& error) {
    return drain(error);
}

bool FileOutput::reopen(std::string& error) {
    std::string ignored;
    drain(ignored);  // a line must not straddle the old and the new file unless the disk failed
    const int fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fresh < 0) {
        error = fmt::format("cannot reopen {}: {}", path_, std::strerror(errno));
        return false;
    }
    ::close(fd_);
    fd_ = fresh;
    return true;
}

std::size_t FileOutput::unwritten_lines() const {
    return static_cast<std::size_t>(std::count(buffer_.begin(), buffer_.end(), '\n'));
}

// ---- specs and factories ----------------------------------------------------------------------

}  // namespace scanwatch::agent
