#include "agent/outputs/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "agent/outputs/line_buffer.h"
#include "agent/outputs/safe_open.h"

namespace scanwatch::agent {
namespace {

// Errors that mean "no room": the lines are lost, not kept for a retry.
bool disk_full(int err) {
    return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

}  // namespace

FileOutput::FileOutput(std::string spec, std::string path, bool flush_each_line)
    : Output(std::move(spec)), path_(std::move(path)), flush_each_line_(flush_each_line) {
    std::string error;
    fd_ = open_for_append(path_, error);
    if (fd_ < 0) throw std::runtime_error(error);
}

FileOutput::~FileOutput() {
    std::string ignored;
    drain(ignored);
    ::close(fd_);
}

bool FileOutput::drain(std::string& error) {
    if (buffer_.empty()) return true;
    if (needs_newline_) {
        // A torn line is in the file; the first line written after it must not extend it.
        ssize_t n = 0;
        do {
            n = ::write(fd_, "\n", 1);
        } while (n < 0 && errno == EINTR);
        if (n == 1) {
            needs_newline_ = false;
        } else if (n < 0 && disk_full(errno)) {
            give_up(0, errno);
            return true;
        }
    }
    int err = 0;
    const std::size_t done = write_all(fd_, buffer_, err);
    if (err != 0 && disk_full(err)) {
        give_up(done, err);
        return true;
    }
    buffer_.erase(0, done);
    if (err == 0) return true;
    error = fmt::format("cannot write: {}", std::strerror(err));
    return false;
}

void FileOutput::give_up(std::size_t done, int err) {
    // The whole lines that reached the file stay; the rest of the buffer is lost. Keeping it for
    // a retry would hold memory for a disk that may stay full for hours, and the lines after it
    // would have to wait: they are tried as they come instead.
    const std::size_t last_newline = done == 0 ? std::string::npos : buffer_.rfind('\n', done - 1);
    const std::size_t whole = last_newline == std::string::npos ? 0 : last_newline + 1;
    const std::size_t torn = done - whole;
    if (torn > 0) {
        // Cut back from the size now rather than a size tracked since open: logrotate's
        // copytruncate or another writer may have changed the file in between.
        struct stat st {};
        const bool cut = ::fstat(fd_, &st) == 0 && static_cast<std::size_t>(st.st_size) >= torn &&
                         ::ftruncate(fd_, st.st_size - static_cast<off_t>(torn)) == 0;
        if (!cut) needs_newline_ = true;
    }
    lost_ += static_cast<std::size_t>(
        std::count(buffer_.begin() + static_cast<std::ptrdiff_t>(whole), buffer_.end(), '\n'));
    lost_error_ = fmt::format("cannot write {}: {}", path_, std::strerror(err));
    buffer_.clear();
}

WriteResult FileOutput::write(std::string_view line, std::chrono::system_clock::time_point /*time*/,
                              std::string& error) {
    return write_buffered(buffer_, line, flush_each_line_, error,
                          [this](std::string& e) { return drain(e); });
}

bool FileOutput::flush(std::string& error) {
    return drain(error);
}

bool FileOutput::reopen(std::string& error) {
    std::string ignored;
    drain(ignored);  // a line must not straddle the old and the new file unless the disk failed
    const int fresh = open_for_append(path_, error);
    if (fresh < 0) {
        error = "reopen: " + error;
        return false;
    }
    ::close(fd_);
    fd_ = fresh;
    return true;
}

std::size_t FileOutput::take_lost(std::string& error) {
    if (lost_ > 0) error = lost_error_;
    return std::exchange(lost_, 0);
}

std::size_t FileOutput::unwritten_lines() const {
    return buffered_lines(buffer_);
}

// ---- specs and factories ----------------------------------------------------------------------

}  // namespace scanwatch::agent
