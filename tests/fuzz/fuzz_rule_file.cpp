// libFuzzer harness for rule file loading (issue 10): the bytes are one rule file, loaded and
// checked the way `scanwatch rules check` loads a file (rules/rule_loader.h), its findings
// written as text and JSON, its rules explained; the same bytes are also loaded as an
// exceptions file and attached. Nothing may crash, and every finding must point
// inside the file (line and column 1-based, or 0 when not tied to a place).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/exceptions.h"
#include "rules/rule.h"
#include "rules/rule_check.h"
#include "rules/rule_loader.h"

namespace {

using scanwatch::rules::RuleDefinition;
using scanwatch::rules::Finding;
using scanwatch::rules::RuleError;

template <typename E>
[[noreturn]] void fail(const char* what, const E& e) {
    std::fprintf(stderr, "fuzz_rule_file: %s: %s\n", what, e.to_string().c_str());
    std::abort();
}

// Lines and the byte length of each, so a column can be checked against its line.
std::vector<std::size_t> line_lengths(std::string_view text) {
    std::vector<std::size_t> out;
    std::size_t begin = 0;
    for (;;) {
        const std::size_t end = text.find('\n', begin);
        if (end == std::string_view::npos) {
            out.push_back(text.size() - begin);
            return out;
        }
        out.push_back(end - begin);
        begin = end + 1;
    }
}

template <typename E>
void check_place(const E& e, std::string_view file, const std::vector<std::size_t>& lines) {
    if (e.message.empty()) fail("finding without a message", e);
    if (file != "fuzz.toml") fail("finding names another file", e);
    if (e.line < 0 || e.column < 0) fail("negative place", e);
    if (e.line == 0) {
        if (e.column != 0) fail("column without a line", e);
        return;
    }
    if (static_cast<std::size_t>(e.line) > lines.size()) fail("line past the end of the file", e);
    // Columns count characters, never more than bytes; +1 for a place just after the line.
    if (static_cast<std::size_t>(e.column) > lines[static_cast<std::size_t>(e.line) - 1] + 1)
        fail("column past the end of its line", e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::vector<std::size_t> lines = line_lengths(text);
    scanwatch::rules::LoadResult loaded = scanwatch::rules::load_rule_text(text, "fuzz.toml");
    for (const Finding& f : loaded.findings) check_place(f, f.file, lines);
    if (loaded.ok() != !loaded.rules.empty()) std::abort();  // one file: a rule or an error
    if (loaded.as_string().empty() != loaded.findings.empty()) std::abort();
    if (loaded.as_json().empty()) std::abort();
    std::vector<std::shared_ptr<const RuleDefinition>> rules = std::move(loaded.rules);
    auto exceptions = scanwatch::rules::load_exceptions(text, "fuzz.toml");
    for (const RuleError& e : exceptions.errors) check_place(e, e.source, lines);
    (void)scanwatch::rules::exception_warnings(rules, exceptions.exceptions);
    rules = scanwatch::rules::with_exceptions(rules, exceptions.exceptions);
    for (const auto& rule : rules) {
        (void)scanwatch::rules::rule_warnings(*rule);
        if (scanwatch::rules::explain_rule(*rule).empty()) std::abort();
    }
    return 0;
}
