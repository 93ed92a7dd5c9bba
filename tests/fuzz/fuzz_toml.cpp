// libFuzzer harness for hostile TOML (issue 21): the bytes go through every real TOML loading
// path, each guarded by rules::check_toml_shape() before a parser recurses into it: a rule file
// (`rules check`, --rules, a SIGHUP reload: rules::load_rule_text), an exceptions file
// (--exceptions: rules::load_exceptions), and a config file (--config: CLI11's reader behind
// agent::reparse_settings, read from a file as the agent reads it). Nothing may crash or run out
// of stack, and what the guard refuses must be refused by every path with a message.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/settings.h"
#include "rules/exceptions.h"
#include "rules/rule_loader.h"
#include "rules/toml_guard.h"

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_toml: %s\n", what);
    std::abort();
}

// One config file per fuzzing process, rewritten for every input.
const std::string& config_path() {
    static const std::string path = [] {
        char name[] = "/tmp/fuzz_toml_config.XXXXXX";
        const int fd = mkstemp(name);
        if (fd < 0) fail("cannot create the config file");
        close(fd);
        return std::string(name);
    }();
    return path;
}

void write_config(std::string_view text) {
    std::FILE* f = std::fopen(config_path().c_str(), "wb");
    if (f == nullptr) fail("cannot open the config file");
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), f) != text.size())
        fail("cannot write the config file");
    std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const bool refused = scanwatch::rules::check_toml_shape(text).has_value();

    const scanwatch::rules::LoadResult rule = scanwatch::rules::load_rule_text(text, "fuzz.toml");
    if (refused && rule.ok()) fail("a rule file the guard refused was loaded");
    const auto exceptions = scanwatch::rules::load_exceptions(text, "fuzz.toml");
    if (refused && exceptions.errors.empty()) fail("an exceptions file the guard refused loaded");

    write_config(text);
    const std::string path = config_path();
    const char* argv[] = {"scanwatch", "--config", path.c_str(), "rules", "show"};
    std::string error;
    const auto settings = scanwatch::agent::reparse_settings(5, argv, error);
    if (refused && settings) fail("a config file the guard refused was accepted");
    if (!settings && error.empty()) fail("a refused config file without a message");
    if (refused && error.find(path) == std::string::npos) fail("the config error names no file");
    return 0;
}
