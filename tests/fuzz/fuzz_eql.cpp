// libFuzzer harness for the EQL parser, printer, matcher and three-valued checker (issue 14),
// as tests/fuzz/fuzz_kql.cpp does for KQL. For each input that parses: print it, parse the
// printed text again, and require that printing is a fixed point and that both queries give the
// same verdicts on fixed events. Any mismatch aborts, so the fuzzer keeps the input. Field names
// resolve dynamically (a name containing "bad" is unknown: an error, or null as `?bad`).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/eql/eql.h"

namespace {

using scanwatch::rules::EqlQuery;
using scanwatch::rules::FieldAccessor;
using scanwatch::rules::QueryError;
using scanwatch::rules::Query;

[[noreturn]] void fail(const char* what, std::string_view text, std::string_view printed) {
    std::fprintf(stderr, "fuzz_eql: %s\n  input:   %.*s\n  printed: %.*s\n", what,
                 static_cast<int>(text.size()), text.data(), static_cast<int>(printed.size()),
                 printed.data());
    std::abort();
}

// The first names get values in the events below; any other name the query uses gets the next
// id and never has a value.
const char* const kValuedFields[] = {"process.name", "process.args", "user.name", "a", "b",
                                     "source.ip", "n"};

struct Event {
    std::vector<std::vector<std::string>> values;  // by field id; missing = no value
};

const std::vector<Event>& events() {
    static const std::vector<Event> all = {
        {{{"ping"}, {"ping", "-c", "1", "10.0.0.7"}, {"root"}, {"x"}, {""}, {"10.0.0.7"}, {"3"}}},
        {{{"hping3"}, {"a b", "*", "?", "\\", "\""}, {"or"}, {}, {"y", "x"}, {"fe80::1"}, {"-2.5"}}},
        {{{""}, {}, {"line1\nline2"}, {"\xc3\xa9"}, {"and", "not", ":"}, {"x"}, {"1e3", "7"}}},
        {{{"NMap"}, {"-sS", "--", "(x)", "{y}", "<z>"}, {}, {"x*y", "a?b"}, {"\t"}, {}, {"n"}}},
        {{{"Ping"}, {"PING", "ping -c 1"}, {"ROOT", "root"}, {"X"}, {"x"}, {"192.168.1.1"}, {"0"}}},
        {{}},
    };
    return all;
}

class Accessor final : public FieldAccessor {
public:
    explicit Accessor(const Event& e) : event_(e) {}
    bool any_value(int field_id,
                   const std::function<bool(std::string_view)>& visit) const override {
        if (field_id < 0 || static_cast<std::size_t>(field_id) >= event_.values.size())
            return false;
        for (const std::string& v : event_.values[static_cast<std::size_t>(field_id)]) {
            if (visit(v)) return true;
        }
        return false;
    }

private:
    const Event& event_;
};

class Resolver {
public:
    Resolver() {
        for (const char* name : kValuedFields) names_.emplace_back(name);
    }
    int operator()(std::string_view name) {
        if (name.find("bad") != std::string_view::npos) return -1;
        for (std::size_t i = 0; i < names_.size(); ++i) {
            if (names_[i] == name) return static_cast<int>(i);
        }
        // Bounded by the query length, which the parser bounds.
        names_.emplace_back(name);
        return static_cast<int>(names_.size() - 1);
    }
    std::size_t size() const { return names_.size(); }

private:
    std::vector<std::string> names_;
};

void check_error(const QueryError& e, std::string_view text) {
    int lines = 1;
    for (char c : text) lines += c == '\n';
    if (e.message.empty()) fail("error without a message", text, "");
    if (e.line < 1 || e.line > lines || e.column < 1 ||
        static_cast<std::size_t>(e.column) > text.size() + 1) {
        fail("error place outside the text", text, e.message);
    }
}

void check_verdicts(const Query& q1, const Query& q2, std::size_t field_count,
                    std::string_view text, std::string_view printed) {
    const auto all_known = [](int) { return true; };
    const auto even_known = [](int id) { return id % 2 == 0; };
    for (const Event& e : events()) {
        const Accessor fields(e);
        const bool m = q1.matches(fields);
        if (m != q2.matches(fields)) fail("re-parsed query gives another verdict", text, printed);
        // With every field known the checker must agree with the matcher exactly.
        if (q1.may_match(fields, all_known) != m || q1.must_match(fields, all_known) != m)
            fail("three-valued check disagrees with the matcher", text, printed);
        // With some fields unknown it must stay sound.
        const bool may = q1.may_match(fields, even_known);
        const bool must = q1.must_match(fields, even_known);
        if ((!may && m) || (must && !m) || (must && !may))
            fail("three-valued check is unsound", text, printed);
        if (may != q2.may_match(fields, even_known) || must != q2.must_match(fields, even_known))
            fail("re-parsed query gives another three-valued verdict", text, printed);
        for (std::size_t id = 0; id < field_count; ++id) {
            const int fid = static_cast<int>(id);
            const std::vector<std::string> req = q1.required_values(fid);
            if (req != q2.required_values(fid))
                fail("re-parsed query requires other values", text, printed);
            if (!m || req.empty()) continue;
            const bool found = fields.any_value(fid, [&req](std::string_view v) {
                for (const std::string& r : req) {
                    if (r == v) return true;
                }
                return false;
            });
            if (!found) fail("a matching event lacks every required value", text, printed);
        }
    }
}

// A sequence or sample: every term, printed as a single-event query, parses back to a query
// with the same verdicts; the structure stays within its limits.
void check_sequence(const scanwatch::rules::EqlSequence& seq, std::string_view text,
                    Resolver& resolver) {
    if (seq.stages.size() < 2 || seq.stages.size() > 128) fail("sequence of bad length", text, "");
    if (seq.sample && (seq.maxspan_ms != 0 || seq.has_until)) fail("sample with span", text, "");
    bool positive = false;
    std::vector<const scanwatch::rules::EqlStage*> terms;
    for (const auto& stage : seq.stages) {
        positive = positive || !stage.missing;
        if (stage.key_ids.size() != seq.stages.front().key_ids.size() ||
            stage.key_optional.size() != stage.key_ids.size()) {
            fail("terms join on different key counts", text, "");
        }
        terms.push_back(&stage);
    }
    if (!positive) fail("sequence without a positive term", text, "");
    if (seq.has_until) terms.push_back(&seq.until);
    const auto resolve = [&resolver](std::string_view name) { return resolver(name); };
    for (const auto* stage : terms) {
        const std::string printed = stage->category + " where " + stage->query.to_string();
        auto again = scanwatch::rules::parse_eql(printed, resolve);
        if (!std::holds_alternative<EqlQuery>(again)) fail("printed term does not parse", text, printed);
        const Query& q2 = std::get<EqlQuery>(again).query;
        check_verdicts(stage->query, q2, resolver.size(), text, printed);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Resolver resolver;
    const auto resolve = [&resolver](std::string_view name) { return resolver(name); };
    auto first = scanwatch::rules::parse_eql(text, resolve);
    if (const auto* error = std::get_if<QueryError>(&first)) {
        check_error(*error, text);
        return 0;
    }
    const EqlQuery& e1 = std::get<EqlQuery>(first);
    if (e1.sequence) {
        check_sequence(*e1.sequence, text, resolver);
        return 0;
    }
    const Query& q1 = e1.query;
    const std::string printed = e1.category + " where " + q1.to_string();
    auto second = scanwatch::rules::parse_eql(printed, resolve);
    if (const auto* error = std::get_if<QueryError>(&second)) {
        std::fprintf(stderr, "re-parse error %d:%d: %s\n", error->line, error->column,
                     error->message.c_str());
        fail("printed query does not parse", text, printed);
    }
    const EqlQuery& e2 = std::get<EqlQuery>(second);
    const Query& q2 = e2.query;
    if (e2.category != e1.category) fail("re-parsed query has another category", text, printed);
    if (e2.category + " where " + q2.to_string() != printed) {
        fail("printing is not a fixed point", text, printed);
    }
    if (q1.field_ids() != q2.field_ids()) fail("re-parsed query reads other fields", text, printed);
    check_verdicts(q1, q2, resolver.size(), text, printed);
    return 0;
}
