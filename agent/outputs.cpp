#include "agent/outputs.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace scanwatch::agent {

LineOutput::LineOutput(std::string spec) : spec_(std::move(spec)) {
    if (spec_ == "-") {
        file_ = stdout;
        return;
    }
    path_ = spec_.rfind("file:", 0) == 0 ? spec_.substr(5) : spec_;
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) {
        throw std::runtime_error(fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
    }
}

LineOutput::~LineOutput() {
    if (!path_.empty()) {
        std::fclose(file_);
    } else {
        std::fflush(file_);
    }
}

bool LineOutput::write(std::string_view line, bool flush) {
    // Locked as one unit: alerts and events may share stdout from two writer threads.
    flockfile(file_);
    bool ok = fwrite_unlocked(line.data(), 1, line.size(), file_) == line.size() &&
              fputc_unlocked('\n', file_) != EOF;
    if (flush) ok = fflush_unlocked(file_) == 0 && ok;
    funlockfile(file_);
    ok ? ++written_ : ++failed_;
    if (!ok) std::clearerr(file_);
    return ok;
}

void LineOutput::flush() { std::fflush(file_); }

bool LineOutput::reopen(std::string& error) {
    if (path_.empty()) return true;
    std::FILE* fresh = std::fopen(path_.c_str(), "ae");
    if (fresh == nullptr) {
        error = fmt::format("cannot reopen {}: {}", path_, std::strerror(errno));
        return false;
    }
    std::fclose(file_);
    file_ = fresh;
    return true;
}

OutputWriter::OutputWriter(std::vector<std::unique_ptr<LineOutput>> outputs, bool flush_each_line,
                           bool threaded, std::size_t max_queue)
    : outputs_(std::move(outputs)),
      flush_each_line_(flush_each_line),
      threaded_(threaded),
      max_queue_(max_queue) {
    if (threaded_) thread_ = std::thread([this] { run(); });
}

OutputWriter::~OutputWriter() { close(); }

void OutputWriter::write_now(const std::string& line) {
    for (auto& out : outputs_) out->write(line, flush_each_line_);
}

void OutputWriter::reopen_now() {
    for (auto& out : outputs_) {
        std::string error;
        if (!out->reopen(error)) fmt::print(stderr, "scanwatch: {}\n", error);
    }
}

void OutputWriter::submit(std::string line) {
    if (!threaded_) {
        write_now(line);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.size() >= max_queue_) {
            ++lost_;
            return;
        }
        queue_.push_back(std::move(line));
    }
    wake_.notify_one();
}

void OutputWriter::reopen() {
    if (!threaded_) {
        reopen_now();
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        reopen_requested_ = true;
    }
    wake_.notify_one();
}

void OutputWriter::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || reopen_requested_ || !queue_.empty(); });
        if (reopen_requested_) {
            reopen_requested_ = false;
            lock.unlock();
            reopen_now();
            lock.lock();
        }
        while (!queue_.empty()) {
            std::string line = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            write_now(line);
            lock.lock();
        }
        if (!flush_each_line_) {
            lock.unlock();
            for (auto& out : outputs_) out->flush();
            lock.lock();
        }
        if (stopping_ && queue_.empty()) return;
    }
}

void OutputWriter::close() {
    if (threaded_ && thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    for (auto& out : outputs_) out->flush();
}

void OutputWriter::stats_fields(JsonWriter& w) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& out : outputs_) {
        w.key(out->spec());
        w.begin_object();
        w.field("written", out->written());
        w.field("failed", out->failed());
        w.field("lost", lost_);
        w.end_object();
    }
}

bool OutputWriter::had_failures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (lost_ > 0) return true;
    for (const auto& out : outputs_) {
        if (out->failed() > 0) return true;
    }
    return false;
}

}  // namespace scanwatch::agent
