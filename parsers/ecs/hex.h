#pragma once
// Hex encoding of arbitrary bytes, for state files that must hold paths and arguments (which
// need not be UTF-8) inside JSON.

#include <string>
#include <string_view>

namespace scanwatch {

/// Lowercase hex of `bytes`.
std::string to_hex(std::string_view bytes);
/// The bytes of `hex`; throws std::invalid_argument on an odd length or a non-hex digit.
std::string from_hex(std::string_view hex);

}  // namespace scanwatch
