#pragma once
// Splits raw audit text into records and decides, before libauparse spends any work on them,
// which records can matter for an exec event. Malformed lines are counted by reason and dropped
// here, so a bad line never reaches auparse and never takes good records down with it.
//
// A record it accepts, as auditd writes it (ENRICHED; fields after 0x1d):
//   type=SYSCALL msg=audit(1615114232.375:15558): arch=c000003e syscall=59 success=yes ... key=(null)^]ARCH=x86_64 ...

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parsers/ecs/counter_table.h"

namespace scanwatch::parsers {

/// Why a line was dropped as malformed.
enum class Malformed : std::uint8_t {
    garbage,     ///< no `type=` record found on the line
    bad_header,  ///< `msg=audit(sec.ms:serial)` missing or not numeric
    nul_byte,    ///< the line contains a NUL byte
    too_long,    ///< longer than the line limit (the kernel never writes such a record)
    truncated,   ///< input ended inside a line that is not a whole record
    too_many_records,  ///< past an event's record or byte cap (see the k* limits below)
    duplicate_field,   ///< a field libauparse mishandles when repeated (a second `cwd=`)
};
inline constexpr std::size_t kMalformedReasons = 7;

/// Per-event caps on what reaches libauparse (whose work per event is quadratic in its records),
/// from the kernel's limits: argv is at most 6 MiB (3/4 of the 8 MiB _STK_LIM, and at most 1/4
/// of RLIMIT_STACK), which audit writes hex-encoded in EXECVE records of at most 7,500 bytes of
/// argument data: ~1,700 records, ~13 MiB. Records past a cap are malformed `too_many_records`.
inline constexpr std::uint32_t kMaxExecveRecordsPerEvent = 2048;
inline constexpr std::uint32_t kMaxOtherRecordsPerEvent = 16;  ///< SYSCALL, CWD, PROCTITLE, EOE
inline constexpr std::uint64_t kMaxBytesPerEvent = 16U << 20U;  ///< record text, all types
/// Events in flight (records passed on, no EOE or PROCTITLE yet, not completed by auparse) per
/// node and in all, and their record text in all. Past a bound the oldest is ended early: an EOE
/// record of its own is passed on for it (counted in `events_ended_early`). So every event in
/// libauparse has its tally here, and the caps above hold whatever the interleaving.
inline constexpr std::size_t kMaxOpenEventsPerNode = 256;
inline constexpr std::size_t kMaxOpenEvents = 4096;
inline constexpr std::uint64_t kMaxOpenBytes = 64U << 20U;
/// age() calls (live input: one a second) after which an event still in flight is ended
/// (`events_ended_aged`), whatever its stamp says: auditd writes an event's records at once, but
/// a reader working off a backlog meets them seconds apart (3 s split an event of a 52-sender
/// collector under AddressSanitizer), so the margin is wide; the in-flight caps bound the cost.
inline constexpr std::uint64_t kOpenEventTicks = 10;

/// The stable name of a reason, used in stats and messages.
std::string_view malformed_name(Malformed reason);

/// Counters of what the filter saw; all monotonic.
struct FilterCounters {
    std::uint64_t bytes = 0;
    std::uint64_t lines = 0;
    std::uint64_t records = 0;          ///< well-formed records
    std::uint64_t records_fed = 0;      ///< handed on to auparse
    std::uint64_t records_skipped = 0;  ///< well-formed, but of a type or syscall that cannot matter
    std::uint64_t proctitles_skipped = 0;  ///< of those, PROCTITLE records (skip_proctitles)
    /// PROCTITLE records passed on as an EOE record of their event (need_titles)
    std::uint64_t proctitles_as_eoe = 0;
    /// PROCTITLE records nothing reads whose event, the only one of its node in flight, was
    /// completed in libauparse at once (end_events_with): no record handed on for them
    std::uint64_t proctitles_flushed = 0;
    /// of those, CWD, EXECVE, PROCTITLE and EOE records of an event whose SYSCALL was skipped
    std::uint64_t records_of_skipped_events = 0;
    std::uint64_t ignored_lines = 0;    ///< blank lines, `#` comments, ausearch `----` / `time->`
    std::uint64_t events_ended_early = 0;  ///< in flight past kMaxOpenEvents{PerNode,} or Bytes
    std::uint64_t events_ended_aged = 0;   ///< in flight for kOpenEventTicks age() calls
    /// connect and socket SYSCALL records passed on (pass_network on)
    std::uint64_t network_syscalls = 0;
    /// socket() of a family other than inet, inet6 and packet (unix, netlink, ...): skipped
    std::uint64_t sockets_other_family = 0;
    /// a connect's SOCKADDR of a family other than inet and inet6 (unix, netlink, ...): skipped,
    /// and the connect then makes no event
    std::uint64_t sockaddrs_other_family = 0;
    std::array<std::uint64_t, kMalformedReasons> malformed{};

    std::uint64_t malformed_total() const;
};

/// The stats keys of FilterCounters, in stats order (`malformed` is written by reason apart).
inline constexpr CounterField<FilterCounters> kFilterCounterFields[] = {
    {"bytes", &FilterCounters::bytes},
    {"lines", &FilterCounters::lines},
    {"records", &FilterCounters::records},
    {"records_parsed", &FilterCounters::records_fed},
    {"records_skipped", &FilterCounters::records_skipped},
    {"proctitles_skipped", &FilterCounters::proctitles_skipped},
    {"proctitles_as_eoe", &FilterCounters::proctitles_as_eoe},
    {"proctitles_flushed", &FilterCounters::proctitles_flushed},
    {"records_of_skipped_events", &FilterCounters::records_of_skipped_events},
    {"ignored_lines", &FilterCounters::ignored_lines},
    {"events_ended_early", &FilterCounters::events_ended_early},
    {"events_ended_aged", &FilterCounters::events_ended_aged},
    {"network_syscalls", &FilterCounters::network_syscalls},
    {"sockets_other_family", &FilterCounters::sockets_other_family},
    {"sockaddrs_other_family", &FilterCounters::sockaddrs_other_family},
};

/// Streaming line splitter and record filter. Feed it bytes in chunks of any size; it calls the
/// sink with batches of accepted records (each ending in '\n'), valid only during the call.
class RecordFilter {
public:
    /// Receives accepted records, newline-terminated, concatenated.
    using Sink = std::function<void(std::string_view records)>;
    /// Told about each malformed line: reason, 1-based line number, and the line (possibly cut).
    using Reporter = std::function<void(Malformed reason, std::uint64_t line, std::string_view text)>;
    /// Told about each record passed on: the record and the byte offset of its line in the
    /// current source (for checkpoints).
    using RecordObserver = std::function<void(std::string_view record, std::uint64_t offset)>;

    /// Lines longer than `max_line` bytes are dropped as too_long; memory use is bounded by it.
    RecordFilter(Sink sink, Reporter reporter, std::size_t max_line = 64 * 1024);

    /// Consumes `bytes`; complete lines are filtered and passed on before it returns.
    void feed(std::string_view bytes);
    /// Ends the input: a final line without newline is accepted if it is a whole record.
    void finish();
    /// Live input, once a second: events in flight for kOpenEventTicks calls are ended (an EOE of
    /// their own is passed on), so an event that never ends costs nothing past that.
    void age();
    /// auparse completed the event of `node` (empty without node=) and `stamp`
    /// ("sec.milli:serial"): it is no longer in flight.
    void event_completed(std::string_view node, std::string_view stamp);
    /// Events in flight now.
    std::size_t open_events() const { return open_.size(); }
    /// Whether `node` (empty without node=) has events in flight.
    bool in_flight(std::string_view node) const;
    /// Starts a new input (next file): line and offset counts restart at `offset` (where reading
    /// starts in it); a pending partial line is ended.
    void begin_source(std::uint64_t offset = 0);
    /// Whether exec SYSCALL records go on with only the fields the normalizer reads (the default;
    /// off in tests that compare both).
    void project_syscalls(bool on) { project_syscalls_ = on; }
    /// Whether PROCTITLE records may be skipped (off by default), for streams whose events end
    /// with EOE (auditd's dispatcher). They are skipped only once an EOE record has been seen:
    /// without EOE, PROCTITLE is what completes an event at once (a log, a pipe of one).
    /// Only the PROCTITLE records of events whose title nothing reads (need_titles) are skipped.
    void skip_proctitles(bool on) { skip_proctitles_ = on; }
    bool skips_proctitles() const { return skip_proctitles_ && !(exec_titles_ && network_titles_); }
    /// Whether process.title is read of exec events and of network events (connect, socket()):
    /// by default both. An event is a network one when its connect or socket SYSCALL went on,
    /// else an exec one. The PROCTITLE record of an event whose title nothing reads is skipped
    /// (skip_proctitles, once EOE was seen) or else, when earlier records of its event went on,
    /// passed on as an EOE record of its event (`proctitles_as_eoe`): libauparse completes the
    /// event at either at once, and parses the EOE for nothing instead of a long hex title.
    void need_titles(bool exec, bool network) {
        exec_titles_ = exec;
        network_titles_ = network;
    }
    /// Completes the events in flight of `node` (empty without node=) in libauparse at once,
    /// after the batch handed on before (an auparse_flush_feed of the node's feed).
    using EventEnder = std::function<void(std::string_view node)>;
    /// With an ender, a PROCTITLE nothing reads (need_titles) whose event is the only one of its
    /// node in flight ends that event through it (`proctitles_flushed`): no EOE record is parsed.
    void end_events_with(EventEnder ender) { ender_ = std::move(ender); }
    /// Whether a file (st_dev as makedev(major, minor), st_ino) is one whose exec's PATH matters.
    using FileWanted = std::function<bool(std::uint64_t device, std::uint64_t inode)>;
    /// Whether an exec event's PATH record of item 0 (the file run) goes on, with only its
    /// item, inode and dev fields (off by default: live and tail modes only, docs/detection.md).
    /// With `wanted`, only those of a file it wants (and those whose dev= or inode= does not
    /// parse, for the normalizer to count): the rest would be read for nothing.
    void pass_exec_paths(bool on, FileWanted wanted = {}) {
        pass_exec_paths_ = on;
        exec_path_wanted_ = std::move(wanted);
    }
    /// Whether connect and socket() SYSCALL records and the inet / inet6 SOCKADDR of a connect
    /// go on (off by default: on when a loaded rule reads a network field, or events are
    /// exported). Other address families are skipped here and counted.
    void pass_network(bool on) { pass_network_ = on; }
    bool passes_network() const { return pass_network_; }
    /// Sets the observer of passed-on records (none by default).
    void observe_records(RecordObserver observer) { observer_ = std::move(observer); }
    /// Offset in the current source up to which every line is complete and handled: what a
    /// restart must read from, unless events are in flight past it.
    std::uint64_t handled_offset() const { return source_offset_ - partial_.size(); }

    const FilterCounters& counters() const { return counters_; }

private:
    void handle_line(std::string_view line);
    void malformed(Malformed reason, std::string_view line);
    void flush_batch();
    bool within_event_caps(std::string_view node, std::string_view stamp, std::string_view type,
                           std::size_t bytes);
    bool exec_path(std::string_view node, std::string_view stamp, std::string_view record);
    bool network_sockaddr(std::string_view node, std::string_view stamp, std::string_view record);

    Sink sink_;
    Reporter reporter_;
    RecordObserver observer_;
    std::uint64_t source_offset_ = 0;  // bytes of the current source consumed (incl. partial_)
    std::uint64_t line_offset_ = 0;    // where the line being handled starts
    std::size_t max_line_;
    std::string partial_;      // an incomplete line carried to the next chunk
    bool discarding_ = false;  // inside an over-long line: drop up to its newline
    bool finishing_ = false;   // handling a last line that had no newline
    bool project_syscalls_ = true;
    bool skip_proctitles_ = false;
    bool exec_titles_ = true;
    bool network_titles_ = true;
    std::string proctitle_end_;  // the EOE record a PROCTITLE is passed on as
    EventEnder ender_;
    bool pass_exec_paths_ = false;
    FileWanted exec_path_wanted_;
    bool pass_network_ = false;
    bool seen_eoe_ = false;
    std::uint64_t line_no_ = 0;
    std::string batch_;  // accepted records waiting for the sink
    std::string scratch_;
    FilterCounters counters_;
    // What each event in flight (by hash of node name and stamp) has passed on so far.
    struct EventTally {
        std::uint32_t execve = 0;
        std::uint32_t other = 0;
        std::uint64_t bytes = 0;
        bool exec = false;     // an exec SYSCALL was passed on
        bool network = false;  // a connect SYSCALL was passed on
        bool socketcall = false;  // an i386 socketcall(2) SYSCALL was passed on
        bool network_event = false;  // a connect or socket SYSCALL was passed on
    };
    bool title_needed(const EventTally* tally) const {
        return tally != nullptr && tally->network_event ? network_titles_ : exec_titles_;
    }
    struct OpenEvent {
        std::uint64_t key = 0;
        std::uint64_t node_key = 0;
        std::uint64_t tick = 0;  // ticks_ when its first record came
        std::string end;         // the EOE record that ends it early
        EventTally tally;
    };
    using OpenList = std::list<OpenEvent>;  // oldest first
    void open_event(std::string_view node, std::uint64_t node_key, std::uint64_t key,
                    std::string_view stamp);
    void close_event(OpenList::iterator it);
    void end_event(OpenList::iterator it, std::uint64_t& counter, bool flush_now);
    OpenList open_;
    OpenList spare_;  // closed entries kept for reuse (node and string buffers), at most kSpareEvents
    std::unordered_map<std::uint64_t, OpenList::iterator> open_index_;
    std::unordered_map<std::uint64_t, std::uint32_t> open_per_node_;
    // Their nodes, kept for reuse once their entry is gone (at most kSpareEvents each).
    std::vector<decltype(open_index_)::node_type> spare_index_;
    std::vector<decltype(open_per_node_)::node_type> spare_per_node_;
    std::uint64_t open_bytes_ = 0;
    std::uint64_t ticks_ = 0;
    bool flush_after_record_ = false;  // hand the batch on once the record is in it
    OpenEvent* last_tally_ = nullptr;  // the event of the previous record, if still open
    // Keys (| 1) of the events whose SYSCALL was skipped last, newest at skipped_next_ - 1: a
    // few, for records of several nodes interleaved on a collector.
    std::array<std::uint64_t, 16> skipped_events_{};
    std::size_t skipped_next_ = 0;
    const EventTally* tally_of(std::string_view node, std::string_view stamp) const;
    bool skipped_event(std::uint64_t key) const;
};

}  // namespace scanwatch::parsers
