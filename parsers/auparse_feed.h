#pragma once
// RAII over libauparse's feed API: bytes in, one callback per complete audit event.

#include <cstdint>
#include <exception>
#include <functional>
#include <string_view>

#include <auparse.h>

namespace scanwatch::parsers {

/// Owns an `auparse_init(AUSOURCE_FEED)` state in raw escape mode. The handler runs inside
/// auparse_feed/flush for each complete event with the state positioned on it; an exception it
/// throws is caught in the C trampoline and rethrown from the feed call that caused it.
class AuparseFeed {
public:
    using EventHandler = std::function<void(auparse_state_t* au)>;

    explicit AuparseFeed(EventHandler on_event);
    ~AuparseFeed();
    AuparseFeed(const AuparseFeed&) = delete;
    AuparseFeed& operator=(const AuparseFeed&) = delete;

    /// Feeds newline-terminated records; complete events are handled before it returns.
    void feed(std::string_view records);
    /// Completes every event in flight (end of input, shutdown).
    void flush();

    std::uint64_t events() const { return events_; }

private:
    static void trampoline(auparse_state_t* au, auparse_cb_event_t type, void* self);
    void rethrow_pending();

    auparse_state_t* au_ = nullptr;
    EventHandler on_event_;
    std::exception_ptr pending_;
    std::uint64_t events_ = 0;
};

}  // namespace scanwatch::parsers
