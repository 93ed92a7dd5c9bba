#pragma once
// Process instances seen in the stream, for ECS entity ids. An instance of a pid starts at its
// execve, or, for a pid first met as somebody's parent, at the event where it was first met.

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parsers/ecs/ecs_event.h"

namespace scanwatch::parsers {

/// What one instance keeps of its exec, whatever the input (docs/operations.md): the arguments
/// whole, from the first, while they fit in kMaxTableArgsBytes with a NUL after each; exe and
/// comm at most kMaxTableStringBytes, a longer one kept as a prefix and the truncation marker
/// of docs/events.md.
inline constexpr std::size_t kMaxTableArgsBytes = 4096;
inline constexpr std::size_t kMaxTableStringBytes = 4096;

/// Bounded map (host, pid) -> current entity id. When full, the host holding the most entries
/// gives one up (so one node's pid flood on a collector never pushes out another node's
/// processes), and of its entries the one that can least matter: a process no child was seen
/// of, then one with a single child, then one with more (a sweep's parent, whose entity id the
/// sweep's group holds), least recently used first within each. Processes with two or more
/// children seen are at most half the capacity per host (past it, the least recently used of
/// them drops a tier), so dead parents cannot fill the table.
/// The id is the hex XXH3-128 of "host \0 pid \0 sec.milli:serial" of the starting event, so it
/// separates pid reuse, needs no clock, and is the same in every mode for the same records.
class ProcessTable {
public:
    explicit ProcessTable(std::size_t capacity = 65536);

    /// What the table knows of a process instance; views live until the next call.
    struct Instance {
        std::string_view entity_id;
        /// The instance started at an exec we saw (and name, args, args_count tell it).
        bool exec_seen = false;
        /// That exec's exe; empty unless exec_seen, or restored from a state of version 1 or 2
        /// (agent/sources/state_file.cpp), which kept only the exe.
        std::string_view executable;
        std::string_view name;
        std::string_view args;  ///< NUL-terminated arguments (ProcessEvent::parent_args)
        std::uint64_t args_count = 0;
        /// The ppid its exec gave (its parent when it started); -1 unless exec_seen. Not kept
        /// in a saved table (tail mode's state file): unknown again after a restart.
        std::int64_t parent_pid = -1;
        /// This call started the instance: the pid was not in the table (first met here).
        bool first_met = false;
    };

    /// The current instance of `pid`, starting one at `event` if none is known.
    Instance current(std::string_view host, std::int64_t pid, std::string_view event);
    /// current(), for the parent of an exec: a child of the instance was seen (it is kept
    /// longer, see above).
    Instance parent(std::string_view host, std::int64_t pid, std::string_view event);
    /// Starts a new instance of `pid` at `event`, the successful exec `exec` (its executable,
    /// name, args and args_count are kept, capped as above).
    Instance start(std::string_view host, std::int64_t pid, std::string_view event,
                   const ProcessEvent& exec);

    /// One instance, for saving and restoring the table (tail mode's state file).
    struct Saved {
        std::string host;
        std::int64_t pid = 0;
        std::string entity_id;
        bool exec_seen = false;
        std::string executable;
        std::string name;
        std::string args;  ///< NUL-terminated arguments
        std::uint64_t args_count = 0;
    };
    /// Every instance, the ones that can least matter first (restore() keeps them longest last).
    std::vector<Saved> save() const;
    /// Replaces the contents with `saved` (least recently used first).
    void restore(const std::vector<Saved>& saved);

    std::size_t size() const { return map_.size(); }
    std::uint64_t evictions() const { return evictions_; }

private:
    struct HostShare;
    struct Entry {
        std::string key;
        std::string entity_id;
        bool exec_seen = false;
        std::string executable;
        std::string name;
        std::string args;
        std::uint64_t args_count = 0;
        std::int64_t parent_pid = -1;
        HostShare* host = nullptr;
        std::uint32_t children = 0;  // children seen of this instance, at most kTiers - 1

        Instance instance(bool first_met) const {
            return {entity_id, exec_seen, executable, name, args, args_count, parent_pid, first_met};
        }
    };
    using List = std::list<Entry>;
    static constexpr std::size_t kTiers = 3;  // by children seen: 0, 1, 2 or more
    struct HostShare {
        std::string name;
        std::array<List, kTiers> tiers;  // front: most recently used
        std::size_t size = 0;
    };

    List::iterator lookup(std::string_view host, std::int64_t pid, bool& found);
    HostShare& share(std::string_view host);
    void resize(HostShare& h, std::size_t size);
    void evict_one(std::string_view inserting);
    void set_children(List::iterator it, std::uint32_t children);

    std::size_t capacity_;
    std::unordered_map<std::string_view, std::unique_ptr<HostShare>> hosts_;  // views name
    std::set<std::pair<std::size_t, HostShare*>> by_size_;  // hosts by entries held
    std::unordered_map<std::string_view, List::iterator> map_;  // views into Entry::key
    std::string key_;
    std::uint64_t evictions_ = 0;
};

/// The entity id a process instance gets: 32 hex digits of XXH3-128 over host, pid and the
/// starting event reference ("sec.milli:serial"). Exposed for tests and documentation.
std::string entity_id_for(std::string_view host, std::int64_t pid, std::string_view event);

}  // namespace scanwatch::parsers
