#pragma once
// A progress line on a terminal for long work (replay): bytes and files read of the total, MB/s,
// events and alerts so far, redrawn in place on stderr a few times a second and cleared at the end
// (docs/operations.md, "Progress"). Only made when stderr is a terminal and --quiet is off.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace scanwatch::agent {

/// Events and alerts so far, asked for at each redraw.
struct ProgressCounts {
    std::uint64_t events = 0;
    std::uint64_t alerts = 0;
};

class ProgressLine {
public:
    using Clock = std::chrono::steady_clock;
    /// `total_bytes` 0: unknown (stdin). `counts` is called at each redraw, on the caller's thread.
    ProgressLine(std::FILE* out, std::uint64_t total_bytes, std::size_t total_files,
                 std::function<ProgressCounts()> counts,
                 Clock::duration interval = std::chrono::milliseconds(250));
    ~ProgressLine();
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    /// The next file is being read.
    void next_file();
    /// `bytes` more were read; redraws when the interval has passed.
    void read(std::uint64_t bytes);
    /// Clears the line (idempotent; the destructor does it too).
    void clear();

    /// The text of the line at `elapsed` since the start (tests).
    std::string text(Clock::duration elapsed) const;

    /// Whether a progress line is wanted: `fd` is a terminal and not `quiet`.
    static bool wanted(int fd, bool quiet);

private:
    void draw();

    std::FILE* out_;
    std::uint64_t total_bytes_;
    std::size_t total_files_;
    std::function<ProgressCounts()> counts_;
    Clock::duration interval_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_draw_ = start_;
    std::uint64_t bytes_ = 0;
    std::size_t files_ = 0;
    bool drawn_ = false;
};

}  // namespace scanwatch::agent
