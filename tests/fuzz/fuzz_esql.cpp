// libFuzzer harness for the ES|QL parser and evaluator (rules/query/esql). Every input either
// parses or gives an error with a place inside the text; a query that parses runs over fixed rows
// (nulls, multi-values, numbers, dates, odd strings) under small limits, which no command may pass.
// Any violation aborts, so the fuzzer keeps the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/esql/esql.h"

namespace {

using namespace scanwatch::rules::esql;

[[noreturn]] void fail(const char* what, std::string_view text) {
    std::fprintf(stderr, "fuzz_esql: %s\n  input: %.*s\n", what, static_cast<int>(text.size()),
                 text.data());
    std::abort();
}

Value text(const char* s) { return Value(Scalar(std::string(s))); }

std::vector<Row> rows() {
    Value args;
    for (const char* a : {"base64", "-d", "a b", "*", "\xc3\xa9", ""}) args.items.emplace_back(std::string(a));
    Value ports;
    for (std::int64_t p : {std::int64_t{22}, std::int64_t{80}, std::int64_t{-1}, std::int64_t{9223372036854775807}}) ports.items.emplace_back(p);
    std::vector<Row> out(4);
    out[0].columns = {{"process.name", text("nmap")}, {"process.args", args},
                      {"destination.ip", text("10.0.0.7")}, {"destination.port", Value(Scalar(std::int64_t{22}))},
                      {"@timestamp", Value(Scalar(Date{1'700'000'000'000}))}, {"a", text("x")}};
    out[1].columns = {{"process.name", text("")}, {"destination.ip", text("fe80::1")},
                      {"destination.port", ports}, {"b", Value(Scalar(1.5))}};
    out[2].columns = {{"a", Value(Scalar(true))}, {"@timestamp", Value(Scalar(Date{-5}))}};
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view query(reinterpret_cast<const char*>(data), size);
    auto parsed = parse(query);
    if (const auto* e = std::get_if<scanwatch::rules::QueryError>(&parsed)) {
        int lines = 1;
        for (char c : query) lines += c == '\n';
        if (e->message.empty()) fail("error without a message", query);
        if (e->line < 1 || e->line > lines || e->column < 1 ||
            static_cast<std::size_t>(e->column) > query.size() + 1) {
            fail("error place outside the text", query);
        }
        return 0;
    }
    const Pipeline& p = std::get<Pipeline>(parsed);
    if (p.indices.empty()) fail("a query without an index parsed", query);
    if (p.row_prefix > p.commands.size()) fail("row prefix past the commands", query);
    Limits limits;
    limits.max_rows = 64;
    limits.max_values = 16;
    // As the engine runs it: the row-by-row prefix per row, then the rest over all of them.
    std::vector<Row> all;
    for (const Row& r : rows()) {
        std::vector<Row> one = {r};
        EvalNotes notes;
        run(p, 0, p.row_prefix, one, 0, limits, notes);
        if (one.size() > limits.max_rows) fail("a row command passed max_rows", query);
        for (Row& x : one) all.push_back(std::move(x));
    }
    EvalNotes notes;
    run(p, p.row_prefix, p.commands.size(), all, 1'700'000'000'000, limits, notes);
    if (all.size() > limits.max_rows * 4 + 1) fail("a command passed max_rows", query);
    for (const Row& r : all) {
        for (const auto& col : r.columns) {
            if (col.second.items.size() > limits.max_values * 64) fail("a value passed max_values", query);
        }
    }
    return 0;
}
