#pragma once
// Lines to stdout (a pipe to a shipper, a terminal, or a redirect).

#include <string>

#include "agent/outputs/output.h"

namespace scanwatch::agent {

/// stdout. Bytes a failed write(2) left out stay buffered and go first at the next write or
/// flush, so a line is never torn or written twice. Alerts and events may both write here from
/// two writer threads: each chunk is written whole before the other's.
class StdoutOutput final : public Output {
public:
    /// With `flush_each_line`, each line is written before write() returns.
    StdoutOutput(std::string spec, bool flush_each_line);
    ~StdoutOutput() override;

    /// Appends `line` and a newline (`time` is not used). Fails, keeping nothing of the line,
    /// when none of it could be written; part of it written is finished by the next attempt.
    WriteResult write(std::string_view line, std::chrono::system_clock::time_point time,
                      std::string& error) override;
    /// Writes out buffered lines.
    bool flush(std::string& error) override;
    /// Whole lines in the buffer.
    std::size_t unwritten_lines() const override;

private:
    bool drain(std::string& error);

    bool flush_each_line_;
    std::string buffer_;  // taken, not yet written; always whole lines plus at most one tail
};

}  // namespace scanwatch::agent
