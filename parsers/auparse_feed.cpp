#include "parsers/auparse_feed.h"

#include <new>

namespace scanwatch::parsers {

AuparseFeed::AuparseFeed(EventHandler on_event) : on_event_(std::move(on_event)) {
    au_ = auparse_init(AUSOURCE_FEED, nullptr);
    if (au_ == nullptr) throw std::bad_alloc();
    // Raw mode: interpreted values are the exact decoded bytes, not re-escaped for a terminal.
    auparse_set_escape_mode(au_, AUPARSE_ESC_RAW);
    auparse_add_callback(au_, &AuparseFeed::trampoline, this, nullptr);
}

AuparseFeed::~AuparseFeed() {
    if (au_ != nullptr) auparse_destroy(au_);
}

void AuparseFeed::trampoline(auparse_state_t* au, auparse_cb_event_t type, void* self) {
    auto* feed = static_cast<AuparseFeed*>(self);
    if (type != AUPARSE_CB_EVENT_READY || feed->pending_) return;
    ++feed->events_;
    try {
        feed->on_event_(au);
    } catch (...) {
        feed->pending_ = std::current_exception();  // never unwind through C frames
    }
}

void AuparseFeed::rethrow_pending() {
    if (pending_) {
        auto e = pending_;
        pending_ = nullptr;
        std::rethrow_exception(e);
    }
}

void AuparseFeed::feed(std::string_view records) {
    // One auparse_feed per record: the order in which auparse completes and hands out
    // interleaved events depends on how its input was split, so splitting it the same way
    // always makes the events (and the entity ids that depend on their order) independent of
    // how the input arrived (docs/events.md).
    while (!records.empty() && !pending_) {
        const std::size_t nl = records.find('\n');
        const std::size_t len = nl == std::string_view::npos ? records.size() : nl + 1;
        auparse_feed(au_, records.data(), len);
        records.remove_prefix(len);
        // auparse marks an event ready at its EOE but calls back only on its next feed; an empty
        // feed delivers it now instead of when more input comes. (auparse's own aging would do it
        // too, but by the wall clock, which neither an old log nor a skewed node may be subject to.)
        while (!pending_ && auparse_feed_has_ready_event(au_) > 0) {
            const std::uint64_t before = events_;
            auparse_feed(au_, "", 0);
            if (events_ == before) break;  // auparse holds it back for a reason of its own
        }
    }
    rethrow_pending();
}

void AuparseFeed::flush() {
    auparse_flush_feed(au_);
    rethrow_pending();
}

}  // namespace scanwatch::parsers
