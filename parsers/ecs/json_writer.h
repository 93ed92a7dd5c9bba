#pragma once
// A small streaming JSON writer for NDJSON output. It exists because audit strings are bytes, not
// text: bytes that are not valid UTF-8 must come out escaped in a reversible way, which general
// JSON libraries (nlohmann, RapidJSON) either reject or replace with U+FFFD.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scanwatch {

/// Appends one JSON value to a caller-owned string. Commas are inserted automatically.
/// Strings are written as UTF-8; each byte that is not part of a valid UTF-8 sequence is written
/// as the escape \udcXX (XX = the byte), the "surrogateescape" convention of PEP 383, so the
/// exact bytes can be recovered (Python: s.encode("utf-8", "surrogateescape")).
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    /// Writes an object key; the next call writes its value.
    void key(std::string_view name);
    void value(std::string_view text);
    void value(const char* text) { value(std::string_view(text)); }
    void value(std::int64_t number);
    void value(std::uint64_t number);
    void value(int number) { value(static_cast<std::int64_t>(number)); }
    void value(bool flag);
    void null();
    /// Writes an array of strings.
    void value(const std::vector<std::string>& items);

    /// Shorthands for key(name) followed by value(v).
    template <typename T>
    void field(std::string_view name, const T& v) {
        key(name);
        value(v);
    }

private:
    void separate();

    std::string& out_;
    std::vector<char> first_;  // per open container: no element written yet (not vector<bool>:
                               // it is read and written for every value)
    bool after_key_ = false;
};

/// Appends `text` as a JSON string literal (quotes included) with the escaping described above.
void append_json_string(std::string& out, std::string_view text);

}  // namespace scanwatch
