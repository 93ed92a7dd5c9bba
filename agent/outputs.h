#pragma once
// Where alerts and events go. Alerts are written and flushed one line at a time (a person or a
// shipper is waiting for each); events are buffered.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "parsers/ecs_event.h"
#include "rules/alert.h"

namespace scanwatch::agent {

/// An NDJSON stream on a FILE*: "-" is stdout, anything else a file opened for append.
class NdjsonOutput {
public:
    /// Opens `spec`; throws std::runtime_error naming the path when it cannot.
    explicit NdjsonOutput(const std::string& spec);
    ~NdjsonOutput();
    NdjsonOutput(const NdjsonOutput&) = delete;
    NdjsonOutput& operator=(const NdjsonOutput&) = delete;

    /// Writes `line` and a newline; flushes when `flush` is set. Returns false on a write error.
    bool write_line(std::string_view line, bool flush);
    void flush();

    std::uint64_t written() const { return written_; }
    std::uint64_t failed() const { return failed_; }

private:
    std::FILE* file_ = nullptr;
    bool owned_ = false;
    std::uint64_t written_ = 0;
    std::uint64_t failed_ = 0;
};

/// Alerts to one output, each stamped with the wall clock as event.created.
class AlertWriter {
public:
    explicit AlertWriter(NdjsonOutput& out) : out_(out) {}
    void write(const rules::Alert& alert);

private:
    NdjsonOutput& out_;
};

/// ECS events to one output, buffered.
class EventWriter {
public:
    explicit EventWriter(NdjsonOutput& out) : out_(out) {}
    void write(const ProcessEvent& event);

private:
    NdjsonOutput& out_;
    std::string line_;
};

}  // namespace scanwatch::agent
