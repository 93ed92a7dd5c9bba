#pragma once
// Remembers libauparse's interpretation of field values that repeat from event to event: the
// executable, command name, working directory and key of every exec by the same program, short
// arguments such as `-c` or `1`, and the user and group names of an ENRICHED record, e.g.
//   type=SYSCALL ...: ... uid=0 ... comm="ping" exe="/usr/bin/ping" key="scan"<0x1d>... UID="root"
// In raw escape mode the interpretation of such a string or id field depends only on the field's
// type and raw text (and on the record's ENRICHED name list), so a remembered one is exactly what
// auparse would say; auparse itself re-derives it on every call. Not for fields interpreted in
// the light of others (SYSCALL's a0..a3 and exit depend on the syscall).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include <auparse.h>

namespace scanwatch::parsers {

class InterpretationCache {
public:
    /// At most `max_entries` values of at most `max_raw` raw bytes (and contexts of four times
    /// that) are kept; the cache is emptied when full (memory stays bounded, interpretations are
    /// cheap to redo).
    explicit InterpretationCache(std::size_t max_entries = 4096, std::size_t max_raw = 256);

    /// auparse_interpret_field() of the field `au` is positioned on. `raw` is that field's raw
    /// text (auparse_get_field_str) and `context` whatever else the interpretation depends on
    /// besides the field name (the record's ENRICHED name list for ids, else empty). Returns
    /// empty where auparse returns NULL. Valid until the next call or auparse call.
    std::string_view interpret(auparse_state_t* au, std::string_view name, std::string_view raw,
                               std::string_view context = {});

    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

private:
    std::uint32_t context_number(std::string_view context);

    std::size_t max_entries_;
    std::size_t max_raw_;
    std::size_t max_context_;
    std::unordered_map<std::string, std::uint32_t> contexts_;  // context -> its number (0: none)
    std::uint32_t next_context_number_ = 1;
    // The previous call's context: the fields of one record share it.
    std::string last_context_;
    std::uint32_t last_context_number_ = 0;
    struct Entry {
        std::uint32_t type;     // record type
        std::uint32_t context;  // its number
        std::string name;
        std::string raw;
        std::string value;  // the interpretation
    };
    std::unordered_map<std::uint64_t, Entry> values_;  // by hash of all but the value
    // The entry a field name last gave, checked against the call before use: the ids, exe and
    // comm of one program's execs repeat, and a check is cheaper than two hashes and a lookup.
    // Emptied with values_ (entries of an unordered_map stay put until erased).
    static constexpr std::size_t kRecentSlots = 32;
    std::array<const Entry*, kRecentSlots> recent_{};
    void clear_values() {
        values_.clear();
        recent_.fill(nullptr);
    }
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace scanwatch::parsers
