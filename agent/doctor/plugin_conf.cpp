#include "agent/doctor/plugin_conf.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace scanwatch::agent::doctor {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
    return s;
}

std::vector<std::string> split_blanks(std::string_view text) {
    std::vector<std::string> out;
    std::istringstream in{std::string(text)};
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

// A plugins.d or auditd.conf file is a few hundred bytes; more is not one of them.
constexpr std::size_t kMaxConfBytes = 64 * 1024;

}  // namespace

std::map<std::string, std::string> parse_key_values(std::string_view text) {
    std::map<std::string, std::string> keys;
    while (!text.empty()) {
        const auto end = text.find('\n');
        std::string_view line = trim(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (line.empty() || line.front() == '#') continue;
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string key(trim(line.substr(0, eq)));
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        keys[key] = std::string(trim(line.substr(eq + 1)));
    }
    return keys;
}

std::string PluginEntry::value(const std::string& key) const {
    const auto it = keys.find(key);
    return it == keys.end() ? std::string() : it->second;
}

bool PluginEntry::active() const {
    std::string v = value("active");
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return v == "yes";
}

std::vector<std::string> PluginEntry::args() const { return split_blanks(value("args")); }

bool PluginEntry::is_af_unix() const {
    const std::string path = value("path");
    return path == "builtin_af_unix" || std::filesystem::path(path).filename() == "audisp-af_unix";
}

std::string PluginEntry::af_unix_path() const {
    for (const std::string& arg : args()) {
        if (!arg.empty() && arg.front() == '/') return arg;
    }
    return kDefaultAfUnixPath;
}

std::string plugin_dir_of(std::string_view auditd_conf) {
    const auto keys = parse_key_values(auditd_conf);
    const auto it = keys.find("plugin_dir");
    return it == keys.end() || it->second.empty() ? std::string(kDefaultPluginDir) : it->second;
}

std::vector<PluginEntry> read_plugin_dir(const std::string& dir, std::string& error) {
    std::vector<PluginEntry> entries;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
        error = "cannot read " + dir + ": " + ec.message();
        return entries;
    }
    for (const auto& file : it) {
        if (file.path().extension() != ".conf" || !file.is_regular_file(ec)) continue;
        std::ifstream in(file.path(), std::ios::binary);
        std::string text(kMaxConfBytes, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        entries.push_back({file.path().string(), parse_key_values(text)});
    }
    std::sort(entries.begin(), entries.end(),
              [](const PluginEntry& a, const PluginEntry& b) { return a.file < b.file; });
    return entries;
}

std::string auditd_config_dir(std::string_view cmdline) {
    std::vector<std::string_view> args;
    while (!cmdline.empty()) {
        const auto end = cmdline.find('\0');
        args.push_back(cmdline.substr(0, end));
        cmdline = end == std::string_view::npos ? std::string_view() : cmdline.substr(end + 1);
    }
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "-c") return std::string(args[i + 1]);
    }
    return "/etc/audit";
}

}  // namespace scanwatch::agent::doctor
