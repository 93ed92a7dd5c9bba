#pragma once
// Test helper: compare output lines with a reviewed golden file under tests/golden, or rewrite
// the file when SCANWATCH_UPDATE_GOLDEN=1 (scripts/update-golden.sh).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace scanwatch::test {

/// Checks `lines` (one per line, newline-terminated) against tests/golden/NAME. Paths under the
/// source folder (an alert's rule_source) are written relative to it, so a golden file does not
/// depend on where the checkout is.
inline void check_golden(const std::string& name, const std::vector<std::string>& lines) {
    const std::string path = SCANWATCH_SOURCE_DIR "/tests/golden/" + name;
    std::string actual;
    for (const auto& l : lines) actual += l + "\n";
    const std::string root = SCANWATCH_SOURCE_DIR "/";
    for (auto at = actual.find(root); at != std::string::npos; at = actual.find(root, at)) {
        actual.erase(at, root.size());
    }
    const char* update = std::getenv("SCANWATCH_UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
        WARN("rewrote " << path);
        return;
    }
    std::ifstream in(path, std::ios::binary);
    INFO("golden file " << path << " (regenerate: scripts/update-golden.sh)");
    REQUIRE(in.good());
    std::stringstream expected;
    expected << in.rdbuf();
    CHECK(actual == expected.str());
}

}  // namespace scanwatch::test
