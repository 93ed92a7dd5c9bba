#include "agent/outputs/output_stdout.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "agent/outputs/line_buffer.h"

namespace scanwatch::agent {
namespace {

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
    int err = 0;
    const std::size_t done = write_all(STDOUT_FILENO, buffer_, err);
    if (err != 0) error = fmt::format("cannot write: {}", std::strerror(err));
    buffer_.erase(0, done);
    return err == 0;
}

WriteResult StdoutOutput::write(std::string_view line,
                                std::chrono::system_clock::time_point /*time*/,
                                std::string& error) {
    return write_buffered(buffer_, line, flush_each_line_, error,
                          [this](std::string& e) { return drain(e); });
}

bool StdoutOutput::flush(std::string& error) {
    return drain(error);
}

std::size_t StdoutOutput::unwritten_lines() const {
    return buffered_lines(buffer_);
}

}  // namespace scanwatch::agent
