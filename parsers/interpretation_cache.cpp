#include "parsers/interpretation_cache.h"

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
    // EXECVE); a context stands in the key as its number, hashed once per record.
    const std::uint32_t parts[2] = {static_cast<std::uint32_t>(auparse_get_type(au)),
                                    context_number(context)};
    key_.assign(reinterpret_cast<const char*>(parts), sizeof parts);
    key_.append(name);
    key_ += '\0';
    key_.append(raw);
    const auto found = values_.find(key_);
    if (found != values_.end()) {
        ++hits_;
        return found->second;
    }
    ++misses_;
    const char* value = auparse_interpret_field(au);
    if (value == nullptr) return {};  // not remembered: auparse may say more another time
    if (values_.size() >= max_entries_) values_.clear();
    return values_.emplace(key_, value).first->second;
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
            values_.clear();  // their keys name numbers that are about to be given again
        }
        last_context_number_ = next_context_number_++;
        contexts_.emplace(last_context_, last_context_number_);
    }
    return last_context_number_;
}

}  // namespace scanwatch::parsers
