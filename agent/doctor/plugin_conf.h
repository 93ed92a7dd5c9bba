#pragma once
// auditd's configuration as doctor reads it: auditd.conf's plugin_dir and the plugins.d entries
// (`key = value` lines, `#` comments; auditd's own format), and which entry starts scanwatch.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace scanwatch::agent::doctor {

/// auditd's default plugins.d folder and af_unix socket.
inline constexpr const char* kDefaultPluginDir = "/etc/audit/plugins.d";
inline constexpr const char* kDefaultAfUnixPath = "/var/run/audispd_events";

/// `key = value` lines as auditd reads them: keys lower-cased, both sides trimmed, `#` lines and
/// lines without `=` skipped; the value is the rest of the line (args keep their spaces).
std::map<std::string, std::string> parse_key_values(std::string_view text);

/// One plugins.d entry.
struct PluginEntry {
    std::string file;  ///< the .conf file
    std::map<std::string, std::string> keys;

    std::string value(const std::string& key) const;
    bool active() const;  ///< active = yes
    /// `args` split on blanks, as auditd passes them (at most two are passed: see docs/live.md).
    std::vector<std::string> args() const;
    /// The af_unix plugin (path builtin_af_unix or audisp-af_unix).
    bool is_af_unix() const;
    /// The af_unix plugin's socket: the args' absolute path, else kDefaultAfUnixPath.
    std::string af_unix_path() const;
};

/// The plugin_dir of auditd.conf's text, or kDefaultPluginDir.
std::string plugin_dir_of(std::string_view auditd_conf);

/// The entries of `dir`'s *.conf files, sorted by file name (auditd reads every *.conf). An
/// unreadable folder: empty, with `error` naming it.
std::vector<PluginEntry> read_plugin_dir(const std::string& dir, std::string& error);

/// The config folder a running auditd was started with (`-c DIR` in /proc/PID/cmdline, given as
/// its NUL-separated text), or /etc/audit.
std::string auditd_config_dir(std::string_view cmdline);

}  // namespace scanwatch::agent::doctor
