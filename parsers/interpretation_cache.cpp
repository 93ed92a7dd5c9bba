#include "parsers/interpretation_cache.h"

#include <xxhash.h>

namespace scanwatch::parsers {

InterpretationCache::InterpretationCache(std::size_t max_entries, std::size_t max_raw)
    : max_entries_(max_entries), max_raw_(max_raw), max_context_(4 * max_raw) {}

std::string_view InterpretationCache::interpret(auparse_state_t* au, std::string_view name,
                                                std::string_view raw, std::string_view context) {
    if (raw.size() > max_raw_ || context.size() > max_context_) {
        // Long values rarely repeat (a scan target, a proctitle); not worth keeping.
        const char* value = auparse_interpret_field(au);
        return value == nullptr ? std::string_view{} : std::string_view(value);
    }
    // The record type and field name give the field's type (a0 of a SYSCALL is not a0 of an
    // EXECVE); a context stands in as its number, found once per record.
    const auto type = static_cast<std::uint32_t>(auparse_get_type(au));
    const std::uint32_t context_id = context_number(context);
    // A SYSCALL's exe, comm, key, auid, uid, gid, euid and egid each get a slot of their own.
    std::uint32_t mix = type;
    for (const char c : name) mix = mix * 37U + static_cast<unsigned char>(c);
    const std::size_t slot = mix % kRecentSlots;
    if (const Entry* recent = recent_[slot]; recent != nullptr && recent->type == type &&
                                             recent->context == context_id &&
                                             recent->name == name && recent->raw == raw) {
        ++hits_;
        return recent->value;
    }
    const std::uint64_t seed = (std::uint64_t{type} << 32U) | context_id;
    const std::uint64_t hash = XXH3_64bits_withSeed(
        raw.data(), raw.size(), XXH3_64bits_withSeed(name.data(), name.size(), seed));
    const auto found = values_.find(hash);
    if (found != values_.end() && found->second.type == type &&
        found->second.context == context_id && found->second.name == name &&
        found->second.raw == raw) {
        ++hits_;
        recent_[slot] = &found->second;
        return found->second.value;
    }
    ++misses_;
    const char* value = auparse_interpret_field(au);
    if (value == nullptr) return {};  // not remembered: auparse may say more another time
    if (found != values_.end()) {     // another value with the same hash: this one replaces it
        found->second = Entry{type, context_id, std::string(name), std::string(raw), value};
        recent_[slot] = &found->second;
        return found->second.value;
    }
    if (values_.size() >= max_entries_) clear_values();
    const Entry& entry =
        values_.emplace(hash, Entry{type, context_id, std::string(name), std::string(raw), value})
            .first->second;
    recent_[slot] = &entry;
    return entry.value;
}

std::uint32_t InterpretationCache::context_number(std::string_view context) {
    if (context.empty()) return 0;
    if (context == last_context_) return last_context_number_;  // most often the same record
    last_context_.assign(context);
    const auto found = contexts_.find(last_context_);
    if (found != contexts_.end()) {
        last_context_number_ = found->second;
    } else {
        if (contexts_.size() >= max_entries_) {
            contexts_.clear();
            clear_values();  // their keys name numbers that are about to be given again
        }
        last_context_number_ = next_context_number_++;
        contexts_.emplace(last_context_, last_context_number_);
    }
    return last_context_number_;
}

}  // namespace scanwatch::parsers
