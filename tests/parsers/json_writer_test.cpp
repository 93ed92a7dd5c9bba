#include <catch2/catch.hpp>

#include "parsers/ecs/json_writer.h"

using scanwatch::append_json_string;
using scanwatch::JsonWriter;

namespace {
std::string quoted(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}
}  // namespace

TEST_CASE("JSON: plain ASCII is copied, quotes and backslashes escaped", "[json]") {
    CHECK(quoted("ping -c 1") == R"("ping -c 1")");
    CHECK(quoted(R"(a"b\c)") == R"("a\"b\\c")");
    CHECK(quoted("") == R"("")");
}

TEST_CASE("JSON: control bytes and DEL use short or \\u00XX escapes", "[json]") {
    CHECK(quoted("a\nb\tc\rd") == R"("a\nb\tc\rd")");
    CHECK(quoted(std::string_view("\x01\x1d\x7f", 3)) == R"("\u0001\u001d\u007f")");
    CHECK(quoted("a\x7f" "b") == R"("a\u007fb")");
}

TEST_CASE("JSON: U+2028 and U+2029 are escaped, their neighbours are not", "[json]") {
    CHECK(quoted("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c") == R"("a\u2028b\u2029c")");
    // U+2027 and U+202A, the same first two bytes, pass through.
    CHECK(quoted("\xe2\x80\xa7\xe2\x80\xaa") == "\"\xe2\x80\xa7\xe2\x80\xaa\"");
}

TEST_CASE("JSON: valid UTF-8 passes through unchanged", "[json]") {
    CHECK(quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST_CASE("JSON: bytes that are not UTF-8 become \\udcXX surrogate escapes", "[json]") {
    CHECK(quoted("\xff\xfe") == R"("\udcff\udcfe")");
    // Truncated sequence, overlong encoding, encoded surrogate, above U+10FFFF.
    CHECK(quoted("a\xc3") == R"("a\udcc3")");
    CHECK(quoted("\xc0\xaf") == R"("\udcc0\udcaf")");
    CHECK(quoted("\xed\xa0\x80") == R"("\udced\udca0\udc80")");
    CHECK(quoted("\xf4\x90\x80\x80") == R"("\udcf4\udc90\udc80\udc80")");
    // A valid character right after an invalid byte survives.
    CHECK(quoted("\xff\xc3\xa9") == "\"\\udcff\xc3\xa9\"");
}

TEST_CASE("JSON: writer places commas and nests containers", "[json]") {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.field("a", 1);
    w.key("b");
    w.begin_array();
    w.value("x");
    w.value(std::int64_t{-2});
    w.value(true);
    w.null();
    w.end_array();
    w.key("c");
    w.begin_object();
    w.end_object();
    w.field("d", std::vector<std::string>{"p", "q"});
    w.end_object();
    CHECK(out == R"({"a":1,"b":["x",-2,true,null],"c":{},"d":["p","q"]})");
}
