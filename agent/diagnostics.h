#pragma once
// Messages to the operator on stderr, rate-limited so bad input cannot flood the log.

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "parsers/record_filter.h"

namespace scanwatch::agent {

/// Reports malformed input: the first few of each reason with their position, then a count.
class Diagnostics {
public:
    explicit Diagnostics(std::FILE* out = stderr, std::uint64_t per_reason = 5)
        : out_(out), per_reason_(per_reason) {}

    /// Names the input that line numbers refer to.
    void set_source(std::string name) { source_ = std::move(name); }
    /// One malformed line at `line` of the current source.
    void malformed(parsers::Malformed reason, std::uint64_t line, std::string_view text);
    /// A message that is not about one line.
    void warn(std::string_view message);
    /// Also sends every message to syslog (LOG_DAEMON): an auditd plugin's stderr goes nowhere.
    void also_syslog();
    /// Called before each message is written (the replay progress line clears itself); empty: none.
    void before_message(std::function<void()> hook) { before_message_ = std::move(hook); }

private:
    void emit(const std::string& message);

    std::FILE* out_;
    std::uint64_t per_reason_;
    std::string source_ = "-";
    bool syslog_ = false;
    std::function<void()> before_message_;
    std::array<std::uint64_t, parsers::kMalformedReasons> reported_{};
};

}  // namespace scanwatch::agent
