#include "agent/metrics/progress.h"

#include <unistd.h>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

std::string megabytes(std::uint64_t bytes) {
    return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

}  // namespace

ProgressLine::ProgressLine(std::FILE* out, std::uint64_t total_bytes, std::size_t total_files,
                           std::function<ProgressCounts()> counts, Clock::duration interval)
    : out_(out),
      total_bytes_(total_bytes),
      total_files_(total_files),
      counts_(std::move(counts)),
      interval_(interval) {}

ProgressLine::~ProgressLine() { clear(); }

bool ProgressLine::wanted(int fd, bool quiet) { return !quiet && ::isatty(fd) == 1; }

// The first file draws at once: even a short run shows where it stands.
void ProgressLine::next_file() {
    ++files_;
    if (files_ == 1) draw();
}

void ProgressLine::read(std::uint64_t bytes) {
    bytes_ += bytes;
    const auto now = Clock::now();
    if (now - last_draw_ < interval_) return;
    last_draw_ = now;
    draw();
}

std::string ProgressLine::text(Clock::duration elapsed) const {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    const double rate = seconds > 0 ? static_cast<double>(bytes_) / 1e6 / seconds : 0;
    const ProgressCounts counts = counts_ ? counts_() : ProgressCounts{};
    std::string read = megabytes(bytes_);
    if (total_bytes_ > 0) {
        read += fmt::format(" of {} ({:.0f}%)", megabytes(total_bytes_),
                            100.0 * static_cast<double>(bytes_) / static_cast<double>(total_bytes_));
    }
    return fmt::format("scanwatch: {}, file {} of {}, {:.1f} MB/s, {} events, {} alerts", read,
                       files_, total_files_, rate, counts.events, counts.alerts);
}

// \r and "erase to the end of the line" (ECMA-48 EL): the line is redrawn in place.
void ProgressLine::draw() {
    const std::string line = "\r" + text(Clock::now() - start_) + "\x1b[K";
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
    drawn_ = true;
}

void ProgressLine::clear() {
    if (!drawn_) return;
    std::fputs("\r\x1b[K", out_);
    std::fflush(out_);
    drawn_ = false;
}

}  // namespace scanwatch::agent
