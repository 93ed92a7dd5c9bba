#pragma once
// A named-counter registry: a module describes its counters once, as a table of (stats name,
// member) next to the struct that holds them, and the stats writer and tests iterate the table
// (docs/operations.md, "Stats"). Header-only and dependency-free, so rules/ may use it too.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace scanwatch::parsers {

/// One counter of a `Counters` struct: the key it has in the stats, and where its value lives.
/// A table is a plain array of these, in the order the stats write them: porting a counter to
/// the registry is one entry, e.g. `{"bytes", &FilterCounters::bytes},`.
template <typename Counters>
struct CounterField {
    std::string_view name;
    std::uint64_t Counters::*member;
};

/// Calls `emit(name, value)` for each counter of `table`, in order.
template <typename Counters, std::size_t N, typename Emit>
void for_each_counter(const Counters& counters, const CounterField<Counters> (&table)[N], Emit&& emit) {
    for (const auto& f : table) emit(f.name, counters.*f.member);
}

}  // namespace scanwatch::parsers
