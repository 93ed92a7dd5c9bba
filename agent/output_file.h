#pragma once
// Lines appended to a file, reopened on SIGHUP (logrotate).

#include <string>

#include "agent/output.h"

namespace scanwatch::agent {

/// A file opened for append. Bytes a failed write(2) left out stay buffered and
/// go first at the next write or flush, so a line is never torn or written twice.
class FileOutput final : public Output {
public:
    /// Opens `path` for append. Throws std::runtime_error naming the path
    /// when it cannot. With `flush_each_line`, each line is written before write() returns.
    FileOutput(std::string spec, std::string path, bool flush_each_line);
    ~FileOutput() override;

    /// Appends `line` and a newline (`time` is not used). Fails, keeping nothing of the line,
    /// when none of it could be written; part of it written is finished by the next attempt.
    WriteResult write(std::string_view line, std::chrono::system_clock::time_point time,
                      std::string& error) override;
    /// Writes out buffered lines (events, which are not flushed line by line).
    bool flush(std::string& error) override;
    /// Writes out the buffer to the old file, then switches to a fresh open of the path.
    bool reopen(std::string& error) override;
    /// Whole lines in the buffer.
    std::size_t unwritten_lines() const override;

private:
    bool drain(std::string& error);

    std::string path_;
    int fd_ = -1;
    bool flush_each_line_;
    std::string buffer_;  // taken, not yet written; always whole lines plus at most one tail
};

}  // namespace scanwatch::agent
