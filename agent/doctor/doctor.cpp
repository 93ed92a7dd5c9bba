#include "agent/doctor/doctor.h"

#include <libaudit.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "agent/doctor/audit_rules.h"
#include "agent/doctor/findings.h"
#include "agent/doctor/host_checks.h"
#include "agent/doctor/kernel_audit.h"
#include "agent/doctor/plugin_conf.h"
#include "agent/privilege.h"
#include "rules/rule_loader.h"

namespace scanwatch::agent::doctor {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultConfig = "/etc/scanwatch/scanwatch.toml";  // agent/settings.cpp
constexpr const char* kReloadAuditd = "systemctl reload auditd (or: kill -HUP $(pidof auditd))";

std::string read_file(const std::string& path, std::size_t limit = 64 * 1024) {
    std::ifstream in(path, std::ios::binary);
    std::string text(limit, '\0');
    in.read(text.data(), static_cast<std::streamsize>(limit));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

std::string canonical(const std::string& path) {
    std::error_code ec;
    const fs::path p = fs::canonical(path, ec);
    return ec ? path : p.string();
}

std::string this_binary() { return canonical("/proc/self/exe"); }

// The rules `s` loads, as the agent would load them.
struct LoadedRules {
    bool ok = false;
    bool exec = false;
    bool network = false;
};

LoadedRules check_scanwatch_rules(const Settings& s, Report& report) {
    const rules::LoadResult loaded = rules::load_rule_sources(rule_sources(s));
    LoadedRules out;
    if (!loaded.ok()) {
        std::string errors;
        for (const auto& f : loaded.findings) {
            if (f.severity != rules::Severity::warning) errors += (errors.empty() ? "" : "; ") + f.to_string();
        }
        report.add("scanwatch.rules", Status::problem, "the rules do not load: " + errors,
                   {"scanwatch rules check FILE... names each error with its line"});
        return out;
    }
    out.ok = true;
    std::tie(out.exec, out.network) = rule_event_kinds(loaded.rules);
    report.add("scanwatch.rules", Status::ok,
               fmt::format("{} rule{} load{}{}", loaded.rules.size(), loaded.rules.size() == 1 ? "" : "s",
                           out.exec ? "; exec rules" : "", out.network ? "; network rules" : ""));
    return out;
}

void check_kernel(const KernelAuditStatus& st, Report& report) {
    if (st.enabled == 0) {
        report.add("audit.enabled", Status::problem, "the kernel does not audit (enabled 0)",
                   {"auditctl -e 1", "keep it: -e 1 in /etc/audit/rules.d/audit.rules, then augenrules --load"});
    } else {
        report.add("audit.enabled", Status::ok,
                   st.enabled == 2 ? "the kernel audits (enabled 2: rules locked until reboot)"
                                   : "the kernel audits (enabled 1)");
    }
    static constexpr const char* kFailure[] = {"silent", "printk", "panic"};
    report.add("audit.failure", Status::ok,
               fmt::format("failure mode {} ({})", st.failure, st.failure < 3 ? kFailure[st.failure] : "unknown"));
    if (st.lost > 0) {
        report.add("audit.lost", Status::warning,
                   fmt::format("the kernel lost {} records since boot (backlog limit {}, rate limit {})",
                               st.lost, st.backlog_limit, st.rate_limit),
                   {"auditctl -b 8192 (keep it: -b 8192 in /etc/audit/rules.d/audit.rules)",
                    "auditctl -r 0 when a rate limit drops records"});
    } else {
        report.add("audit.lost", Status::ok, "no record lost since boot");
    }
    if (st.backlog_limit > 0 && st.backlog * 2 >= st.backlog_limit) {
        report.add("audit.backlog", Status::warning,
                   fmt::format("{} of {} backlog records wait for auditd: it falls behind", st.backlog,
                               st.backlog_limit),
                   {"auditctl -b 8192", "check that auditd and its plugins keep up (top -p $(pidof auditd))"});
    } else {
        report.add("audit.backlog", Status::ok,
                   fmt::format("{} of {} backlog records waiting", st.backlog, st.backlog_limit));
    }
}

// auditd, from the pid the kernel has registered.
void check_auditd(const KernelAuditStatus& st, Report& report) {
    if (st.pid == 0) {
        report.add("auditd.running", Status::problem, "no audit daemon is registered with the kernel",
                   {"systemctl start auditd (or: service auditd start)"});
        return;
    }
    const std::string proc = fmt::format("/proc/{}", st.pid);
    std::string comm = read_file(proc + "/comm", 256);
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm.empty()) {
        report.add("auditd.running", Status::problem,
                   fmt::format("the registered audit daemon (pid {}) is gone", st.pid),
                   {"systemctl restart auditd"});
        return;
    }
    report.add("auditd.running", Status::ok, fmt::format("{} runs as pid {}", comm, st.pid));
}

// The settings a plugins.d entry's args give, and whether its rules load; "" when fine.
std::string entry_config_error(const std::vector<std::string>& args, const std::string& binary,
                               std::string& config) {
    if (args.empty() || args.front() != "plugin") {
        return "its args do not start with `plugin` (args = plugin --config=/etc/scanwatch/scanwatch.toml)";
    }
    std::vector<std::string> words{binary};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const auto& w : words) argv.push_back(w.c_str());
    std::string error;
    const auto parsed = reparse_settings(static_cast<int>(argv.size()), argv.data(), error);
    if (!parsed) return "its command line does not parse: " + error;
    config = parsed->config;
    const rules::LoadResult loaded = rules::load_rule_sources(rule_sources(*parsed));
    if (!loaded.ok()) {
        for (const auto& f : loaded.findings) {
            if (f.severity != rules::Severity::warning) return "its rules do not load: " + f.to_string();
        }
    }
    return {};
}

void check_plugin_entry(const Settings& s, const std::vector<PluginEntry>& entries, const std::string& dir,
                        Report& report) {
    const std::string self = this_binary();
    // Entries that start a binary named like this one: this very binary first, then an active one.
    const auto rank = [&self](const PluginEntry& e) {
        return (canonical(e.value("path")) == self ? 2 : 0) + (e.active() ? 1 : 0);
    };
    const PluginEntry* chosen = nullptr;
    for (const PluginEntry& e : entries) {
        const std::string path = e.value("path");
        if (path.empty() || fs::path(path).filename() != fs::path(self).filename()) continue;
        if (chosen == nullptr || rank(e) > rank(*chosen)) chosen = &e;
    }
    if (chosen == nullptr) {
        report.add("audit.plugin", Status::problem, fmt::format("no entry in {} starts {}", dir, self),
                   {fmt::format("install -m 0640 plugins.d/scanwatch.conf {}/scanwatch.conf "
                                "(the Debian package installs it) with path = {} and active = yes",
                                dir, self),
                    kReloadAuditd});
        return;
    }
    const PluginEntry& e = *chosen;
    const std::string path = e.value("path");
    if (!e.active()) {
        report.add("audit.plugin", Status::problem, fmt::format("{} is not active", e.file),
                   {fmt::format("set active = yes in {}", e.file), kReloadAuditd});
        return;
    }
    if (e.value("format") != "string") {
        report.add("audit.plugin", Status::problem,
                   fmt::format("{} has format = {}; scanwatch reads text", e.file, e.value("format")),
                   {fmt::format("set format = string in {}", e.file), kReloadAuditd});
        return;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        report.add("audit.plugin", Status::problem,
                   fmt::format("{} starts {}: {}", e.file, path, std::strerror(errno)),
                   {fmt::format("set path = {} in {}", self, e.file), kReloadAuditd});
        return;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        report.add("audit.plugin", Status::problem,
                   fmt::format("auditd starts only a root-owned plugin nobody else may write: {} is uid {} "
                               "mode {:o}", path, st.st_uid, st.st_mode & 07777),
                   {fmt::format("chown root:root {} && chmod 0755 {}", path, path), kReloadAuditd});
        return;
    }
    std::string config;
    if (const std::string error = entry_config_error(e.args(), path, config); !error.empty()) {
        report.add("audit.plugin", Status::problem, fmt::format("{}: {}", e.file, error),
                   {fmt::format("fix args in {} (scanwatch --config=FILE doctor checks a config file)", e.file),
                    kReloadAuditd});
        return;
    }
    report.add("audit.plugin", Status::ok,
               fmt::format("{} is active and starts {} {}; its configuration parses and its rules load",
                           e.file, path, e.value("args")));
    if (canonical(path) != self) {
        report.add("audit.plugin.binary", Status::warning,
                   fmt::format("{} starts {}, not this binary ({})", e.file, path, self),
                   {fmt::format("run {} doctor to check what it loads, or set path = {} in {}", path, self, e.file)});
    }
    // The config doctor checked: --config, else the default file when it is there (as the agent reads it).
    std::string checked = s.config;
    if (struct stat cs {}; checked.empty() && ::stat(kDefaultConfig, &cs) == 0) checked = kDefaultConfig;
    if (!config.empty() && (checked.empty() || canonical(config) != canonical(checked))) {
        report.add("audit.plugin.config", Status::warning,
                   fmt::format("the plugin reads {}; doctor checked {}", config,
                               checked.empty() ? std::string("no config file") : checked),
                   {fmt::format("scanwatch --config={} doctor", config)});
    }
}

const PluginEntry* af_unix_entry(const std::vector<PluginEntry>& entries) {
    const PluginEntry* found = nullptr;
    for (const PluginEntry& e : entries) {
        if (e.is_af_unix() && (found == nullptr || e.active())) found = &e;
    }
    return found;
}

void check_socket_readers(const Settings& s, const std::vector<PluginEntry>& entries, const std::string& dir,
                          Report& report) {
    const PluginEntry* af_unix = af_unix_entry(entries);
    const bool socket_mode = s.doctor_input == Mode::socket;
    if (af_unix == nullptr || !af_unix->active()) {
        if (!socket_mode) return;
        const std::string file = af_unix != nullptr ? af_unix->file : dir + "/af_unix.conf";
        report.add("audit.af_unix", Status::problem,
                   fmt::format("auditd's af_unix plugin is not active ({})", file),
                   {fmt::format("set active = yes in {} (path = builtin_af_unix, args = 0640 {} string)",
                                file, s.socket_path),
                    kReloadAuditd});
        return;
    }
    const std::string path = af_unix->af_unix_path();
    if (socket_mode) {
        if (path != s.socket_path) {
            report.add("audit.af_unix", Status::problem,
                       fmt::format("the af_unix plugin listens on {}, scanwatch socket reads {}", path, s.socket_path),
                       {fmt::format("scanwatch socket {}", path)});
        } else {
            report.add("audit.af_unix", Status::ok, fmt::format("{} is active and listens on {}", af_unix->file, path));
        }
    }
    std::vector<SocketReader> readers;
    std::string error;
    if (!unix_socket_readers(path, readers, error)) {
        const int count = connected_unix_sockets(read_file("/proc/net/unix", 16 * 1024 * 1024), path);
        report.add("audit.af_unix.readers", count > 0 && socket_mode ? Status::warning : Status::ok,
                   fmt::format("{} process{} read{} {} (cannot name them: {})", count, count == 1 ? "" : "es",
                               count == 1 ? "s" : "", path, error),
                   count > 0 && socket_mode ? std::vector<std::string>{"ss -xp | grep " + path} : std::vector<std::string>{});
        return;
    }
    const std::string self = this_binary();
    std::vector<std::string> others;
    std::vector<std::string> names;
    for (const SocketReader& r : readers) {
        const std::string name = fmt::format("pid {} ({}, {})", r.pid, r.comm, r.exe);
        names.push_back(name);
        if (fs::path(r.exe).filename() != fs::path(self).filename()) others.push_back(name);
    }
    if (readers.empty()) {
        report.add("audit.af_unix.readers", Status::ok, fmt::format("nobody reads {}", path));
    } else if (socket_mode && !others.empty()) {
        report.add("audit.af_unix.readers", Status::warning,
                   fmt::format("{} already read{} {}: {}", others.size() == 1 ? "another process" : "other processes",
                               others.size() == 1 ? "s" : "", path, fmt::join(others, "; ")),
                   {"check that this reader is meant to be there (each reader gets every record)"});
    } else {
        report.add("audit.af_unix.readers", Status::ok, fmt::format("{} read by {}", path, fmt::join(names, "; ")));
    }
}

void check_tail_log(const Settings& s, Report& report) {
    struct stat st {};
    if (::stat(s.tail_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        report.add("audit.log", Status::problem, fmt::format("there is no audit log at {}", s.tail_path),
                   {"set write_logs = yes and log_file in auditd.conf, then systemctl restart auditd",
                    "or: scanwatch tail PATH names the log auditd writes"});
        return;
    }
    report.add("audit.log", Status::ok, fmt::format("{} is there ({} bytes)", s.tail_path, st.st_size));
}

void check_access(const Settings& s, Report& report) {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string who = "root";
    if (!s.user.empty()) {
        try {
            std::tie(uid, gid) = user_ids(s.user);
            who = fmt::format("{} (uid {}, gid {})", s.user, uid, gid);
        } catch (const std::exception& e) {
            report.add("access.user", Status::problem, e.what(),
                       {fmt::format("adduser --system --group {}", s.user), "or change user = in the config"});
            return;
        }
    }
    const auto needs = access_needs(s, [](const std::string& p) {
        struct stat st {};
        return ::stat(p.c_str(), &st) == 0;
    });
    if (needs.empty()) {
        report.add("access", Status::ok, "no file output, stats or state file to write");
        return;
    }
    std::vector<int> errors;
    try {
        errors = check_access_as(uid, gid, needs);
    } catch (const std::exception& e) {
        report.add("access", Status::problem, e.what(), {"run scanwatch doctor as root"});
        return;
    }
    bool all = true;
    for (std::size_t i = 0; i < needs.size(); ++i) {
        if (errors[i] == 0) continue;
        all = false;
        const AccessNeed& n = needs[i];
        const bool folder = (n.mode & X_OK) != 0;
        std::vector<std::string> fix;
        if (errors[i] == ENOENT) {
            fix.push_back(folder ? fmt::format("install -d -o {0} -g {0} -m 0750 {1}", s.user.empty() ? "root" : s.user, n.path)
                                 : fmt::format("create {}", n.path));
        } else if (!s.user.empty()) {
            fix.push_back(fmt::format("chown {0}:{0} {1}", s.user, n.path));
        } else {
            fix.push_back(fmt::format("make {} writable (a read-only file system?)", n.path));
        }
        report.add("access", Status::problem,
                   fmt::format("{} cannot write {}: {} ({})", who, n.path, std::strerror(errors[i]), n.what),
                   std::move(fix));
    }
    if (all) {
        report.add("access", Status::ok, fmt::format("{} can write the {} path{} scanwatch writes", who,
                                                     needs.size(), needs.size() == 1 ? "" : "s"));
    }
}

}  // namespace

int run_doctor(const Settings& s) {
    Report report;
    const LoadedRules loaded = check_scanwatch_rules(s, report);
    KernelAuditStatus status;
    std::string error;
    const bool have_status = read_audit_status(status, error);
    if (!have_status) {
        report.add("audit.kernel", Status::problem, error,
                   {::geteuid() != 0 ? "run scanwatch doctor as root"
                                     : "a kernel booted with audit=0 does not audit: remove it from the "
                                       "kernel command line, or use a kernel with CONFIG_AUDIT"});
    } else {
        check_kernel(status, report);
        check_auditd(status, report);
    }
    if (loaded.ok) {
        std::vector<LoadedAuditRule> audit_rules;
        if (!read_audit_rules(audit_rules, error)) {
            report.add("audit.rules", Status::problem, error, {"run scanwatch doctor as root"});
        } else {
            const int machine = audit_detect_machine();
            check_audit_rules(audit_needs(loaded.exec, loaded.network, machine), audit_rules, machine, report);
        }
    }
    // auditd's own configuration: the folder it was started with (-c), else /etc/audit.
    const std::string config_dir =
        have_status && status.pid != 0
            ? auditd_config_dir(read_file(fmt::format("/proc/{}/cmdline", status.pid)))
            : std::string("/etc/audit");
    const std::string plugin_dir = plugin_dir_of(read_file(config_dir + "/auditd.conf"));
    std::string dir_error;
    const std::vector<PluginEntry> entries = read_plugin_dir(plugin_dir, dir_error);
    if (s.doctor_input == Mode::plugin) {
        if (!dir_error.empty()) {
            report.add("audit.plugin", Status::problem, dir_error,
                       {::geteuid() != 0 ? "run scanwatch doctor as root"
                                         : "apt-get install auditd (plugins.d comes with it), or set "
                                           "plugin_dir in auditd.conf"});
        } else {
            check_plugin_entry(s, entries, plugin_dir, report);
        }
    } else if (s.doctor_input == Mode::tail) {
        check_tail_log(s, report);
    }
    check_socket_readers(s, entries, plugin_dir, report);
    check_access(s, report);

    const std::string out = s.doctor_json ? render_json(report) : render_text(report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return report.exit_code();
}

}  // namespace scanwatch::agent::doctor
