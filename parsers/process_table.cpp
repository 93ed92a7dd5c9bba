#include "parsers/process_table.h"

#include <fmt/compile.h>
#include <fmt/format.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

namespace scanwatch::parsers {
namespace {

void table_key(std::string& key, std::string_view host, std::int64_t pid) {
    key.assign(host);
    key += '\0';
    const fmt::format_int digits(pid);
    key.append(digits.data(), digits.size());
}

// XXH3-128 of key \0 event, as 32 hex digits, into `out` (reusing its buffer).
void hash_id(std::string& out, std::string_view key, std::string_view event) {
    XXH3_state_t state;
    XXH3_128bits_reset(&state);
    XXH3_128bits_update(&state, key.data(), key.size());
    XXH3_128bits_update(&state, "", 1);
    XXH3_128bits_update(&state, event.data(), event.size());
    const XXH128_hash_t h = XXH3_128bits_digest(&state);
    char hex[32];
    fmt::format_to(hex, FMT_COMPILE("{:016x}{:016x}"), h.high64, h.low64);  // once per exec
    out.assign(hex, sizeof hex);
}

// A value longer than kMaxTableStringBytes (never from the kernel: exe is at most PATH_MAX, comm
// 15 bytes) keeps its prefix and the marker docs/events.md describes for arguments.
void assign_capped(std::string& out, std::string_view value) {
    if (value.size() <= kMaxTableStringBytes) {
        out.assign(value);
        return;
    }
    const XXH128_hash_t h = XXH3_128bits(value.data(), value.size());
    out.assign(value.substr(0, kMaxTableStringBytes));
    fmt::format_to(std::back_inserter(out),
                   FMT_COMPILE("[scanwatch: truncated, {} bytes, xxh3-128 {:016x}{:016x}]"),
                   value.size(), h.high64, h.low64);
}

// Whole arguments from the first while they fit: a cut argument could match a rule's value
// that the real one does not.
void pack_args(std::string& out, const std::vector<std::string>& args) {
    out.clear();
    for (const auto& arg : args) {
        if (out.size() + arg.size() + 1 > kMaxTableArgsBytes) break;
        out.append(arg);
        out += '\0';
    }
}

}  // namespace

std::string entity_id_for(std::string_view host, std::int64_t pid, std::string_view event) {
    std::string key;
    table_key(key, host, pid);
    std::string id;
    hash_id(id, key, event);
    return id;
}

ProcessTable::ProcessTable(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
    map_.reserve(capacity_ < 4096 ? capacity_ : 4096);
}

ProcessTable::List::iterator ProcessTable::lookup(std::string_view host, std::int64_t pid,
                                                  bool& found) {
    table_key(key_, host, pid);
    const auto it = map_.find(key_);
    if (it != map_.end()) {
        found = true;
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second;
    }
    found = false;
    if (map_.size() >= capacity_) {
        map_.erase(lru_.back().key);
        lru_.pop_back();
        ++evictions_;
    }
    lru_.push_front(Entry{key_, {}, false, {}, {}, {}, 0, -1});
    map_.emplace(lru_.front().key, lru_.begin());
    return lru_.begin();
}

std::vector<ProcessTable::Saved> ProcessTable::save() const {
    std::vector<Saved> out;
    out.reserve(lru_.size());
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
        const auto sep = it->key.find('\0');
        Saved s;
        s.host = it->key.substr(0, sep);
        s.pid = std::stoll(it->key.substr(sep + 1));
        s.entity_id = it->entity_id;
        s.exec_seen = it->exec_seen;
        s.executable = it->executable;
        s.name = it->name;
        s.args = it->args;
        s.args_count = it->args_count;
        out.push_back(std::move(s));
    }
    return out;
}

void ProcessTable::restore(const std::vector<Saved>& saved) {
    map_.clear();
    lru_.clear();
    for (const auto& s : saved) {
        bool found = false;
        auto it = lookup(s.host, s.pid, found);
        it->entity_id = s.entity_id;
        it->exec_seen = s.exec_seen;
        assign_capped(it->executable, s.executable);
        assign_capped(it->name, s.name);
        // A restored list is cut like a packed one, at a whole argument.
        it->args.assign(s.args.substr(0, kMaxTableArgsBytes));
        if (const auto end = it->args.rfind('\0'); end != std::string::npos) {
            it->args.resize(end + 1);
        } else {
            it->args.clear();
        }
        it->args_count = s.args_count;
    }
}

ProcessTable::Instance ProcessTable::current(std::string_view host, std::int64_t pid,
                                             std::string_view event) {
    bool found = false;
    auto it = lookup(host, pid, found);
    if (!found) hash_id(it->entity_id, it->key, event);
    return it->instance(!found);
}

ProcessTable::Instance ProcessTable::start(std::string_view host, std::int64_t pid,
                                           std::string_view event, const ProcessEvent& exec) {
    bool found = false;
    auto it = lookup(host, pid, found);
    hash_id(it->entity_id, it->key, event);
    it->exec_seen = true;
    assign_capped(it->executable, exec.executable);
    assign_capped(it->name, exec.name);
    pack_args(it->args, exec.args);
    it->args_count = exec.args_count;
    it->parent_pid = exec.ppid;
    return it->instance(!found);
}

}  // namespace scanwatch::parsers
