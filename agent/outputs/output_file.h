#pragma once
// Lines appended to a file, reopened on SIGHUP (logrotate).

#include <string>

#include "agent/outputs/output.h"

namespace scanwatch::agent {

/// A file opened for append. When the disk is full (ENOSPC, EDQUOT, EFBIG) the lines that did not
/// fit are lost, counted, and a line torn by a short write is cut off again (ftruncate), or, if
/// that fails, the next write starts on a fresh line; later lines are still tried. After other
/// errors the bytes left out stay buffered and go first at the next write or flush.
class FileOutput final : public Output {
public:
    /// Opens `path` for append. Throws std::runtime_error naming the path
    /// when it cannot. With `flush_each_line`, each line is written before write() returns.
    FileOutput(std::string spec, std::string path, bool flush_each_line);
    ~FileOutput() override;

    /// Appends `line` and a newline (`time` is not used). A full disk loses it (ok, then
    /// take_lost()); other errors fail, keeping nothing of the line when none of it was written.
    WriteResult write(std::string_view line, std::chrono::system_clock::time_point time,
                      std::string& error) override;
    /// Writes out buffered lines (events, which are not flushed line by line).
    bool flush(std::string& error) override;
    /// Writes out the buffer to the old file, then switches to a fresh open of the path.
    bool reopen(std::string& error) override;
    /// Whole lines in the buffer.
    std::size_t unwritten_lines() const override;
    /// Lines lost to a full disk since the last call.
    std::size_t take_lost(std::string& error) override;

private:
    bool drain(std::string& error);
    void give_up(std::size_t done, int err);

    std::string path_;
    int fd_ = -1;
    bool flush_each_line_;
    std::string buffer_;  // taken, not yet written; always whole lines plus at most one tail
    bool needs_newline_ = false;  // a torn line could not be cut off: start on a fresh line
    std::size_t lost_ = 0;        // lines given up since take_lost()
    std::string lost_error_;
};

}  // namespace scanwatch::agent
