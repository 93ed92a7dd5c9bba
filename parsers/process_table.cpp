#include "parsers/process_table.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/compile.h>
#include <fmt/format.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

namespace scanwatch::parsers {
namespace {

void table_key(std::string& key, std::string_view host, std::int64_t pid) {
    // One resize and copies: it runs twice per exec.
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, pid).ptr;
    const auto length = static_cast<std::size_t>(end - digits);
    key.resize(host.size() + 1 + length);
    char* out = key.data();
    if (!host.empty()) std::memcpy(out, host.data(), host.size());
    out[host.size()] = '\0';
    std::memcpy(out + host.size() + 1, digits, length);
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

ProcessTable::HostShare& ProcessTable::share(std::string_view host) {
    const auto found = hosts_.find(host);
    if (found != hosts_.end()) return *found->second;
    auto h = std::make_unique<HostShare>();
    h->name.assign(host);
    HostShare& ref = *h;
    hosts_.emplace(ref.name, std::move(h));
    by_size_.emplace(0, &ref);
    return ref;
}

void ProcessTable::resize(HostShare& h, std::size_t size) {
    by_size_.erase({h.size, &h});
    h.size = size;
    if (size == 0) {
        hosts_.erase(std::string_view(h.name));  // destroys h
        return;
    }
    by_size_.emplace(size, &h);
}

// The host holding the most gives up its entry that can least matter: a pid flood, however many
// parents it makes, evicts its own node's one-off execs first, never a quiet node's processes.
void ProcessTable::evict_one(std::string_view inserting) {
    HostShare* h = by_size_.rbegin()->second;
    const auto mine = hosts_.find(inserting);
    if (mine != hosts_.end() && mine->second->size == h->size) h = mine->second.get();
    for (List& tier : h->tiers) {
        if (tier.empty()) continue;
        map_.erase(std::string_view(tier.back().key));
        tier.pop_back();
        ++evictions_;
        resize(*h, h->size - 1);
        return;
    }
}

void ProcessTable::set_children(List::iterator it, std::uint32_t children) {
    HostShare& h = *it->host;
    const std::uint32_t from = std::min<std::uint32_t>(it->children, kTiers - 1);
    const std::uint32_t to = std::min<std::uint32_t>(children, kTiers - 1);
    it->children = children;
    List& tier = h.tiers[to];
    tier.splice(tier.begin(), h.tiers[from], it);
    // Parents of many are kept longest, but at most half the capacity: the least recently
    // used of them drops back a tier (dead shells and daemons of the past go that way).
    List& top = h.tiers[kTiers - 1];
    if (to == kTiers - 1 && from != to && top.size() > capacity_ / 2 && top.size() > 1) {
        auto oldest = std::prev(top.end());
        oldest->children = kTiers - 2;
        h.tiers[kTiers - 2].splice(h.tiers[kTiers - 2].begin(), top, oldest);
    }
}

ProcessTable::List::iterator ProcessTable::lookup(std::string_view host, std::int64_t pid,
                                                  bool& found) {
    table_key(key_, host, pid);
    const auto it = map_.find(key_);
    if (it != map_.end()) {
        found = true;
        const List::iterator e = it->second;
        List& tier = e->host->tiers[std::min<std::uint32_t>(e->children, kTiers - 1)];
        tier.splice(tier.begin(), tier, e);
        return e;
    }
    found = false;
    if (map_.size() >= capacity_) evict_one(host);
    HostShare& h = share(host);
    List& tier = h.tiers[0];
    tier.push_front(Entry{key_, {}, false, {}, {}, {}, 0, -1, &h, 0});
    map_.emplace(tier.front().key, tier.begin());
    resize(h, h.size + 1);
    return tier.begin();
}

std::vector<ProcessTable::Saved> ProcessTable::save() const {
    std::vector<Saved> out;
    out.reserve(map_.size());
    for (std::size_t t = 0; t < kTiers; ++t) {
        for (const auto& [name, h] : hosts_) {
            const List& tier = h->tiers[t];
            for (auto it = tier.rbegin(); it != tier.rend(); ++it) {
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
        }
    }
    return out;
}

void ProcessTable::restore(const std::vector<Saved>& saved) {
    map_.clear();
    by_size_.clear();
    hosts_.clear();
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

ProcessTable::Instance ProcessTable::parent(std::string_view host, std::int64_t pid,
                                            std::string_view event) {
    bool found = false;
    auto it = lookup(host, pid, found);
    if (!found) hash_id(it->entity_id, it->key, event);
    // Met first as a parent: one child seen.
    if (it->children < kTiers - 1) set_children(it, it->children + 1);
    return it->instance(!found);
}

ProcessTable::Instance ProcessTable::start(std::string_view host, std::int64_t pid,
                                           std::string_view event, const ProcessEvent& exec) {
    bool found = false;
    auto it = lookup(host, pid, found);
    hash_id(it->entity_id, it->key, event);
    if (it->children != 0) set_children(it, 0);  // a new instance: no child of it seen yet
    it->exec_seen = true;
    assign_capped(it->executable, exec.executable);
    assign_capped(it->name, exec.name);
    pack_args(it->args, exec.args);
    it->args_count = exec.args_count;
    it->parent_pid = exec.ppid;
    return it->instance(!found);
}

}  // namespace scanwatch::parsers
