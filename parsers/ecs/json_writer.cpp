#include "parsers/ecs/json_writer.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace scanwatch {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    const std::size_t left = s.size() - i;
    const auto cont = [&](std::size_t k) { return (byte(i + k) & 0xC0U) == 0x80U; };
    if (c < 0x80U) return 1;
    if (c >= 0xC2U && c <= 0xDFU) return left >= 2 && cont(1) ? 2 : 0;
    if (c >= 0xE0U && c <= 0xEFU) {
        if (left < 3 || !cont(1) || !cont(2)) return 0;
        const unsigned char c1 = byte(i + 1);
        if (c == 0xE0U && c1 < 0xA0U) return 0;  // overlong
        if (c == 0xEDU && c1 >= 0xA0U) return 0; // surrogates
        return 3;
    }
    if (c >= 0xF0U && c <= 0xF4U) {
        if (left < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
        const unsigned char c1 = byte(i + 1);
        if (c == 0xF0U && c1 < 0x90U) return 0;  // overlong
        if (c == 0xF4U && c1 >= 0x90U) return 0; // above U+10FFFF
        return 4;
    }
    return 0;
}

// Bytes copied as they are: printable ASCII but the quote and the backslash (DEL is escaped:
// valid JSON raw, but some consumers and terminals break on it).
constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (unsigned c = 0x20U; c < 0x7FU; ++c) plain[c] = c != '"' && c != '\\';
    return plain;
}();

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (kPlain[c]) {
            // Copy the run of plain ASCII in one go: this is nearly every byte of audit data.
            std::size_t j = i + 1;
            while (j < text.size() && kPlain[static_cast<unsigned char>(text[j])]) ++j;
            out.append(text.data() + i, j - i);
            i = j;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; ++i; continue;
            case '\\': out += "\\\\"; ++i; continue;
            case '\n': out += "\\n"; ++i; continue;
            case '\r': out += "\\r"; ++i; continue;
            case '\t': out += "\\t"; ++i; continue;
            default: break;
        }
        if (c < 0x20U || c == 0x7FU) {
            out += "\\u00";
            out += hex[c >> 4U];
            out += hex[c & 0xFU];
            ++i;
            continue;
        }
        const std::size_t len = utf8_sequence_length(text, i);
        if (len == 0) {
            out += "\\udc";
            out += hex[c >> 4U];
            out += hex[c & 0xFU];
            ++i;
        } else if (len == 3 && c == 0xE2U && static_cast<unsigned char>(text[i + 1]) == 0x80U &&
                   (static_cast<unsigned char>(text[i + 2]) & 0xFEU) == 0xA8U) {
            // U+2028 and U+2029 are line breaks to JavaScript and to some log viewers.
            out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += len;
        } else {
            out.append(text.data() + i, len);
            i += len;
        }
    }
    out += '"';
}

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ',';
        first_.back() = false;
    }
}

void JsonWriter::begin_object() {
    separate();
    out_ += '{';
    first_.push_back(true);
}

void JsonWriter::end_object() {
    out_ += '}';
    first_.pop_back();
}

void JsonWriter::begin_array() {
    separate();
    out_ += '[';
    first_.push_back(true);
}

void JsonWriter::end_array() {
    out_ += ']';
    first_.pop_back();
}

void JsonWriter::key(std::string_view name) {
    separate();
    // Keys are nearly always plain ECS names: one append instead of the escaping loop's several.
    const auto plain = [](char c) { return kPlain[static_cast<unsigned char>(c)]; };
    if (std::all_of(name.begin(), name.end(), plain)) {
        out_ += '"';
        out_.append(name);
        out_ += "\":";
    } else {
        append_json_string(out_, name);
        out_ += ':';
    }
    after_key_ = true;
}

void JsonWriter::value(std::string_view text) {
    separate();
    append_json_string(out_, text);
}

void JsonWriter::value(std::int64_t number) {
    separate();
    const fmt::format_int digits(number);
    out_.append(digits.data(), digits.size());
}

void JsonWriter::value(std::uint64_t number) {
    separate();
    const fmt::format_int digits(number);
    out_.append(digits.data(), digits.size());
}

void JsonWriter::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
}

void JsonWriter::null() {
    separate();
    out_ += "null";
}

void JsonWriter::value(const std::vector<std::string>& items) {
    begin_array();
    for (const auto& item : items) value(std::string_view(item));
    end_array();
}

}  // namespace scanwatch
