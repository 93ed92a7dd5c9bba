#pragma once
// Names of the enums settings and rule files spell out (evaluation, profile, name match): one
// table per enum, which parsing, printing and the command line's list of choices all read.

#include <string>
#include <string_view>
#include <vector>

namespace scanwatch {

/// One spelling of an enum value.
template <typename E>
struct EnumName {
    std::string_view name;
    E value;
};

/// Sets `out` to the value named `text` in `names`; false (and `out` untouched) if none.
template <typename E, std::size_t N>
bool parse_enum(std::string_view text, const EnumName<E> (&names)[N], E& out) {
    for (const auto& n : names) {
        if (n.name == text) {
            out = n.value;
            return true;
        }
    }
    return false;
}

/// The name of `value` in `names` (the first entry's for a value not in it).
template <typename E, std::size_t N>
std::string_view enum_name(E value, const EnumName<E> (&names)[N]) {
    for (const auto& n : names) {
        if (n.value == value) return n.name;
    }
    return names[0].name;
}

/// Every name of `names`, in order (e.g. the choices of a command-line option).
template <typename E, std::size_t N>
std::vector<std::string> enum_names(const EnumName<E> (&names)[N]) {
    std::vector<std::string> out;
    for (const auto& n : names) out.emplace_back(n.name);
    return out;
}

}  // namespace scanwatch
