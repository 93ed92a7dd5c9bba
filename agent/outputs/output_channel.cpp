#include "agent/outputs/output_channel.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "agent/host_identity.h"
#include "agent/outputs/output_file.h"
#include "agent/outputs/output_relp.h"
#include "agent/outputs/output_stdout.h"
#include "agent/outputs/output_syslog.h"

namespace scanwatch::agent {
namespace {

using namespace std::chrono_literals;

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr auto kGivenUpReportEvery = std::chrono::seconds(60);
const char* plural(std::uint64_t n) {
    return n == 1 ? "line" : "lines";
}

}  // namespace

std::unique_ptr<Output> make_output(const OutputSpec& spec, bool flush_each_line) {
    switch (spec.kind) {
        case OutputKind::stdout_:
            return std::make_unique<StdoutOutput>(spec.text, flush_each_line);
        case OutputKind::file:
            return std::make_unique<FileOutput>(spec.text, spec.path, flush_each_line);
        case OutputKind::syslog_local:
        case OutputKind::syslog_udp:
        case OutputKind::syslog_tcp: break;
        case OutputKind::relp:
            return std::make_unique<RelpOutput>(spec, local_hostname(), static_cast<long>(::getpid()));
    }
    return std::make_unique<SyslogOutput>(spec, local_hostname(), static_cast<long>(::getpid()));
}

// ---- OutputChannel ----------------------------------------------------------------------------

OutputChannel::OutputChannel(std::unique_ptr<Output> output, OutputReport report)
    : output_(std::move(output)), report_(std::move(report)), backoff_(kMinBackoff) {}

void OutputChannel::send(std::string_view line, WallClock::time_point time, Clock::time_point now) {
    if (down_ || pending_flush_ || !backlog_.empty()) {
        keep(line, time);
        return;
    }
    if (!attempt(line, time, now)) keep(line, time);
}

bool OutputChannel::attempt(std::string_view line, WallClock::time_point time,
                            Clock::time_point now) {
    std::string error;
    switch (output_->write(line, time, error)) {
        case WriteResult::ok:
            ++written_;
            count_given_up(now);
            return true;
        case WriteResult::rejected:
            ++failed_;
            ++lost_;
            if (!reject_reported_ && report_) {
                report_(
                    fmt::format("output {}: a line of {} bytes cannot be sent ({}); counted as "
                                "lost, as are further ones",
                                spec(), line.size(), error));
            }
            reject_reported_ = true;
            return true;
        case WriteResult::failed:
            break;
    }
    ++failed_;
    count_given_up(now);
    went_down(error, now);
    return false;
}

void OutputChannel::count_given_up(Clock::time_point now) {
    std::string error;
    const std::uint64_t n = output_->take_lost(error);
    if (n == 0) return;
    // Counted written when the output took them; they never reached it.
    written_ -= std::min<std::uint64_t>(n, written_);
    lost_ += n;
    given_up_unreported_ += n;
    if (!report_ || (given_up_reported_ && now - *given_up_reported_ < kGivenUpReportEvery))
        return;
    report_(fmt::format("output {}: {}; {} {} lost, later lines are still tried (said at most once "
                        "a minute)",
                        spec(), error, given_up_unreported_, plural(given_up_unreported_)));
    given_up_unreported_ = 0;
    given_up_reported_ = now;
}

void OutputChannel::went_down(const std::string& error, Clock::time_point now) {
    if (!down_) {
        down_ = true;
        failed_in_outage_ = 0;
        lost_in_outage_ = 0;
        backoff_ = kMinBackoff;
        if (report_) {
            report_(fmt::format("output {} failed: {}; keeping up to {} lines and retrying", spec(),
                                error, output_->max_backlog()));
        }
    }
    ++failed_in_outage_;
    next_retry_ = now + backoff_;
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff);
}

void OutputChannel::keep(std::string_view line, WallClock::time_point time) {
    if (backlog_.size() >= output_->max_backlog()) {
        ++lost_;
        ++lost_in_outage_;
        if (!drop_reported_ && report_) {
            report_(
                fmt::format("output {}: backlog full ({} lines); new lines are dropped and "
                            "counted as lost until it is back",
                            spec(), output_->max_backlog()));
        }
        drop_reported_ = true;
        return;
    }
    backlog_.push_back(Kept{std::string(line), time});
    update_backlog_count();
}

void OutputChannel::retry(Clock::time_point now) {
    if (!down_ && !pending_flush_ && backlog_.empty()) return;
    if (down_ && now < next_retry_) return;
    std::string error;
    if (pending_flush_) {
        const bool flushed = output_->flush(error);
        count_given_up(now);
        if (!flushed) {
            ++failed_;
            went_down(error, now);
            return;
        }
        pending_flush_ = false;
    }
    while (!backlog_.empty()) {
        Kept& front = backlog_.front();
        if (!attempt(front.line, front.time, now)) return;
        backlog_.pop_front();
        update_backlog_count();
    }
    if (down_) {
        down_ = false;
        backoff_ = kMinBackoff;
        if (report_) {
            report_(fmt::format(
                "output {} is back after {} failed {}; its backlog is sent{}", spec(),
                failed_in_outage_, failed_in_outage_ == 1 ? "attempt" : "attempts",
                lost_in_outage_ > 0
                    ? fmt::format(", {} {} lost", lost_in_outage_, plural(lost_in_outage_))
                    : std::string()));
        }
        drop_reported_ = false;
    }
}

void OutputChannel::retry_soon(Clock::time_point now) {
    next_retry_ = now;
    backoff_ = kMinBackoff;
}

std::optional<OutputChannel::Clock::time_point> OutputChannel::next_retry() const {
    if (!down_ && !pending_flush_ && backlog_.empty()) return std::nullopt;
    return next_retry_;
}

void OutputChannel::flush(Clock::time_point now) {
    if (down_ || pending_flush_) return;  // retry() flushes first when it is due
    std::string error;
    const bool flushed = output_->flush(error);
    count_given_up(now);
    if (flushed) return;
    ++failed_;
    pending_flush_ = true;
    went_down(error, now);
}

void OutputChannel::reopen(Clock::time_point now) {
    std::string error;
    if (!output_->reopen(error) && report_) report_(error);
    // SIGHUP is also how an operator says "the receiver is back": try at once.
    if (down_) retry_soon(now);
}

std::size_t OutputChannel::abandon(std::string_view why) {
    count_given_up(Clock::now());
    std::uint64_t n = backlog_.size();
    // Lines the output took but still holds (a failed flush, a refused datagram) never arrived.
    const std::uint64_t unwritten = output_->unwritten_lines();
    written_ -= std::min<std::uint64_t>(unwritten, written_);
    n += unwritten;
    backlog_.clear();
    update_backlog_count();
    lost_ += n;
    if (n > 0 && report_)
        report_(fmt::format("output {}: {} {} lost {}", spec(), n, plural(n), why));
    return static_cast<std::size_t>(n);
}

OutputCounts OutputChannel::counts() const {
    OutputCounts c;
    c.written = written_;
    c.failed = failed_;
    c.lost = lost_;
    c.backlog = backlog_count_;
    return c;
}

// ---- OutputWriter -----------------------------------------------------------------------------

OutputWriter::OutputWriter(std::vector<std::unique_ptr<Output>> outputs,
                           bool threaded, OutputReport report, std::size_t max_queue,
                           std::chrono::milliseconds close_grace)
    : threaded_(threaded),
      max_queue_(max_queue),
      close_grace_(close_grace) {
    for (auto& out : outputs)
        channels_.push_back(std::make_unique<OutputChannel>(std::move(out), report));
    if (threaded_) thread_ = std::thread([this] { run(); });
}

OutputWriter::~OutputWriter() {
    close();
}

void OutputWriter::deliver(const Queued& q) {
    const auto now = OutputChannel::Clock::now();
    for (auto& c : channels_) c->send(q.line, q.time, now);
}

void OutputWriter::retry_all() {
    const auto now = OutputChannel::Clock::now();
    for (auto& c : channels_) c->retry(now);
}

void OutputWriter::flush() {
    if (!threaded_) flush_all();
}

void OutputWriter::flush_all() {
    const auto now = OutputChannel::Clock::now();
    for (auto& c : channels_) c->flush(now);
}

void OutputWriter::reopen_now() {
    const auto now = OutputChannel::Clock::now();
    for (auto& c : channels_) c->reopen(now);
}

std::optional<OutputChannel::Clock::time_point> OutputWriter::earliest_retry() const {
    std::optional<OutputChannel::Clock::time_point> earliest;
    for (const auto& c : channels_) {
        const auto due = c->next_retry();
        if (due && (!earliest || *due < *earliest)) earliest = due;
    }
    return earliest;
}

void OutputWriter::submit(std::string line) {
    Queued q{std::move(line), OutputChannel::WallClock::now()};
    if (!threaded_) {
        deliver(q);
        retry_all();
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.size() >= max_queue_) {
            ++dropped_;
            return;
        }
        queue_.push_back(std::move(q));
    }
    wake_.notify_one();
}

void OutputWriter::submit_view(std::string_view line) {
    if (threaded_) {
        submit(std::string(line));
        return;
    }
    // As submit() then deliver(), without the Queued copy.
    const auto time = OutputChannel::WallClock::now();
    const auto now = OutputChannel::Clock::now();
    for (auto& c : channels_) c->send(line, time, now);
    retry_all();
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
        // The channels belong to this thread; reading their retry times under the lock is fine.
        const auto due = earliest_retry();
        const auto ready = [this] { return stopping_ || reopen_requested_ || !queue_.empty(); };
        if (due) {
            wake_.wait_until(lock, *due, ready);
        } else {
            wake_.wait(lock, ready);
        }
        const bool reopen = std::exchange(reopen_requested_, false);
        const bool stop = stopping_;
        std::deque<Queued> batch;
        batch.swap(queue_);
        lock.unlock();
        if (reopen) reopen_now();
        for (const auto& q : batch) deliver(q);
        retry_all();
        flush_all();  // buffered files write out; UDP notices a refusal of its last datagram
        lock.lock();
        if (stop && queue_.empty()) return;
    }
}

void OutputWriter::drain_at_close(OutputChannel::Clock::time_point deadline) {
    auto now = OutputChannel::Clock::now();
    for (auto& c : channels_) {
        if (c->next_retry()) c->retry_soon(now);
    }
    for (;;) {
        retry_all();
        flush_all();
        const auto due = earliest_retry();
        if (!due || OutputChannel::Clock::now() >= deadline) break;
        if (*due <= deadline) {
            std::this_thread::sleep_until(*due);
            continue;
        }
        // The backoff would pass the deadline: one last attempt at the deadline.
        std::this_thread::sleep_until(deadline);
        for (auto& c : channels_) {
            if (c->next_retry()) c->retry_soon(deadline);
        }
    }
    const std::string why = fmt::format(
        "at exit: the output was still failing after {} ms of retries", close_grace_.count());
    for (auto& c : channels_) c->abandon(why);
}

void OutputWriter::close() {
    if (closed_) return;
    closed_ = true;
    // One deadline for all of it: a write already stalled on the writer thread, the queue, and
    // the retries (a receiver that accepts and never reads held the exit 44 s before).
    const auto deadline = OutputChannel::Clock::now() + close_grace_;
    for (auto& c : channels_) c->stop_by(deadline);
    if (threaded_ && thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    drain_at_close(deadline);
}

std::vector<OutputCounts> OutputWriter::counts() const {
    std::vector<OutputCounts> out;
    for (const auto& c : channels_) {
        OutputCounts n = c->counts();
        n.lost += dropped_;
        out.push_back(n);
    }
    return out;
}

void OutputWriter::stats_fields(JsonWriter& w, std::string_view key_prefix) const {
    const auto all = counts();
    for (std::size_t i = 0; i < channels_.size(); ++i) {
        w.key(std::string(key_prefix) + channels_[i]->spec());
        w.begin_object();
        w.field("written", all[i].written);
        w.field("failed", all[i].failed);
        w.field("lost", all[i].lost);
        w.field("backlog", all[i].backlog);
        w.end_object();
    }
}

bool OutputWriter::had_failures() const {
    for (const auto& n : counts()) {
        if (n.lost > 0) return true;
    }
    return false;
}

}  // namespace scanwatch::agent
