#pragma once
// A group's events inside a sliding window, as counts per second of event time (the streaming
// and the scheduled threshold engines): at most one entry per second the window spans, so a
// 9-minute window holds at most 540 whatever the event rate. Each second keeps its earliest
// event's time and `First`, what an engine needs of it (an event id, or a serial).

#include <algorithm>
#include <cstdint>
#include <deque>

namespace scanwatch::rules {

template <typename First>
class SecondCounts {
public:
    struct Second {
        std::int64_t second;
        std::uint64_t count;
        std::int64_t first_ms;  // earliest event counted in that second
        First first;            // and what the engine keeps of it
    };

    /// The second `time_ms` falls in (floor, also before the epoch).
    static std::int64_t second_of(std::int64_t time_ms) {
        return time_ms >= 0 ? time_ms / 1000 : (time_ms - 999) / 1000;
    }

    /// Counts one event at `time_ms`; `first()` gives what is kept of it when it is the earliest
    /// of its second. Events out of order land a few places from the end.
    template <typename MakeFirst>
    void add(std::int64_t time_ms, MakeFirst first) {
        const std::int64_t second = second_of(time_ms);
        auto it = std::find_if(seconds_.rbegin(), seconds_.rend(),
                               [second](const Second& s) { return s.second <= second; });
        if (it != seconds_.rend() && it->second == second) {
            ++it->count;
            if (time_ms < it->first_ms) {
                it->first_ms = time_ms;
                it->first = first();
            }
        } else {
            seconds_.insert(it.base(), Second{second, 1, time_ms, first()});
        }
    }

    /// Drops the seconds wholly before `cutoff_ms` (a second counts while any of its
    /// milliseconds is inside the window); returns how many events they held.
    std::uint64_t expire(std::int64_t cutoff_ms) {
        std::uint64_t dropped = 0;
        while (!seconds_.empty() && seconds_.front().second * 1000 + 999 < cutoff_ms) {
            dropped += seconds_.front().count;
            seconds_.pop_front();
        }
        return dropped;
    }

    /// Appends a saved second; false (nothing added) unless it is later than the last one.
    bool restore(const Second& s) {
        if (!seconds_.empty() && s.second <= seconds_.back().second) return false;
        seconds_.push_back(s);
        return true;
    }

    void clear() { seconds_.clear(); }
    bool empty() const { return seconds_.empty(); }
    const Second& front() const { return seconds_.front(); }
    typename std::deque<Second>::const_iterator begin() const { return seconds_.begin(); }
    typename std::deque<Second>::const_iterator end() const { return seconds_.end(); }

private:
    std::deque<Second> seconds_;  // oldest first
};

}  // namespace scanwatch::rules
