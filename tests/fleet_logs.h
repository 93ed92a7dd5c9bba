#pragma once
// Test helper: captured logs rewritten as another node's (docs/fleet.md), and interleaved the way
// a collector receives them.

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace scanwatch::test {

inline std::string read_sample(const std::string& name) {
    std::ifstream in(std::string(SCANWATCH_SOURCE_DIR "/samples/") + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// `log`'s records as node `node` would send them, `shift_s` seconds later (serials kept).
inline std::vector<std::string> as_node(const std::string& log, const std::string& node,
                                        long long shift_s) {
    static const std::regex stamp(R"(msg=audit\((\d+)\.(\d+):(\d+)\))");
    std::vector<std::string> out;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, stamp)) continue;
        std::string record = line.substr(static_cast<std::size_t>(m.position(0)));
        const std::size_t type = line.rfind("type=", static_cast<std::size_t>(m.position(0)));
        if (type == std::string::npos) continue;
        record = line.substr(type);
        const std::string shifted = "msg=audit(" + std::to_string(std::stoll(m[1]) + shift_s) +
                                    "." + m[2].str() + ":" + m[3].str() + ")";
        const std::size_t at = record.find(m.str());
        record.replace(at, m.length(), shifted);
        out.push_back((node.empty() ? "" : "node=" + node + " ") + record + "\n");
    }
    return out;
}

/// One record of each log in turn (a managed sender's interleaving), until all are used up.
inline std::string interleave(const std::vector<std::vector<std::string>>& logs) {
    std::string out;
    for (std::size_t i = 0;; ++i) {
        bool any = false;
        for (const auto& log : logs) {
            if (i < log.size()) {
                out += log[i];
                any = true;
            }
        }
        if (!any) return out;
    }
}

}  // namespace scanwatch::test
