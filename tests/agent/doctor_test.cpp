#include <catch2/catch.hpp>

#include <libaudit.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "agent/doctor/audit_rules.h"
#include "agent/doctor/findings.h"
#include "agent/doctor/host_checks.h"
#include "agent/doctor/plugin_conf.h"
#include "agent/settings.h"
#include "rules/rule.h"
#include "rules/rule_loader.h"

namespace d = scanwatch::agent::doctor;
using scanwatch::agent::Settings;

namespace {

constexpr std::uint32_t kB64 = AUDIT_ARCH_X86_64;
constexpr std::uint32_t kB32 = AUDIT_ARCH_I386;

// An exit-list rule as the kernel would list it: `-a ACTION,exit -F arch=ARCH -S NAMES`.
d::LoadedAuditRule exit_rule(std::uint32_t action, std::uint32_t arch, int machine,
                             std::vector<const char*> syscalls, std::vector<std::string> conditions = {},
                             std::string key = "k") {
    d::LoadedAuditRule r;
    r.list = AUDIT_FILTER_EXIT;
    r.action = action;
    r.has_arch = true;
    r.arch = arch;
    for (const char* name : syscalls) {
        const int n = audit_name_to_syscall(name, machine);
        REQUIRE(n >= 0);
        r.mask[static_cast<std::size_t>(n) / 32] |= 1U << (static_cast<std::size_t>(n) % 32);
    }
    r.conditions = std::move(conditions);
    r.key = std::move(key);
    return r;
}

// The rules of packaging/scanwatch.rules.
std::vector<d::LoadedAuditRule> shipped_rules() {
    return {exit_rule(AUDIT_ALWAYS, kB64, MACH_86_64, {"execve", "execveat"}, {}, "scanwatch-exec"),
            exit_rule(AUDIT_ALWAYS, kB32, MACH_X86, {"execve", "execveat"}, {}, "scanwatch-exec"),
            exit_rule(AUDIT_ALWAYS, kB64, MACH_86_64, {"connect"}, {"a2!=110"}, "scanwatch-net"),
            exit_rule(AUDIT_ALWAYS, kB32, MACH_X86, {"connect"}, {"a2!=110"}, "scanwatch-net"),
            exit_rule(AUDIT_ALWAYS, kB64, MACH_86_64, {"socket"}, {"a0!=1", "a0!=16"}, "scanwatch-net"),
            exit_rule(AUDIT_ALWAYS, kB32, MACH_X86, {"socket"}, {"a0!=1", "a0!=16"}, "scanwatch-net"),
            exit_rule(AUDIT_ALWAYS, kB32, MACH_X86, {"socketcall"}, {"a0=3"}, "scanwatch-net")};
}

const d::Finding* find(const d::Report& report, const std::string& check) {
    for (const auto& f : report.findings) {
        if (f.check == check) return &f;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("doctor: exec rules need execve and execveat, network rules connect and socket", "[doctor]") {
    const auto exec_only = d::audit_needs(true, false, MACH_86_64);
    REQUIRE(exec_only.size() == 2);
    CHECK(exec_only[0].check == "audit.rules.exec.b64");
    CHECK(exec_only[0].syscalls == std::vector<std::string>{"execve", "execveat"});
    CHECK(exec_only[0].required);
    CHECK_FALSE(exec_only[1].required);  // 32-bit programs: a warning
    const auto both = d::audit_needs(true, true, MACH_86_64);
    CHECK(both.size() == 7);
    CHECK(d::audit_needs(false, true, MACH_86_64).size() == 5);
    // aarch64 has no 32-bit need (scanwatch's parsers know no arm32 numbers).
    CHECK(d::audit_needs(true, true, MACH_AARCH64).size() == 3);
}

TEST_CASE("doctor: the built-in rules want exec and network events; an exec rule only exec", "[doctor]") {
    const auto builtin = scanwatch::rules::load_rule_sources({});
    REQUIRE(builtin.ok());
    CHECK(d::rule_event_kinds(builtin.rules) == std::pair<bool, bool>{true, true});
    const auto exec_rule = scanwatch::rules::load_rule(scanwatch::rules::builtin_rule_text(), "exec");
    const auto* rule = std::get_if<std::shared_ptr<const scanwatch::rules::RuleDefinition>>(&exec_rule);
    REQUIRE(rule != nullptr);
    CHECK(d::rule_event_kinds({*rule}) == std::pair<bool, bool>{true, false});
}

TEST_CASE("doctor: the shipped audit rules meet every need", "[doctor]") {
    d::Report report;
    d::check_audit_rules(d::audit_needs(true, true, MACH_86_64), shipped_rules(), MACH_86_64, report);
    REQUIRE(report.findings.size() == 7);
    CHECK(report.problems() == 0);
    CHECK(report.warnings() == 0);
    CHECK(find(report, "audit.rules.connect.b64")->message ==
          "connect (b64) audited (key scanwatch-net) only where a2!=110");
}

TEST_CASE("doctor: a missing execve rule is a problem naming the auditctl line", "[doctor]") {
    auto loaded = shipped_rules();
    loaded.erase(loaded.begin());  // no b64 exec rule
    d::Report report;
    d::check_audit_rules(d::audit_needs(true, true, MACH_86_64), loaded, MACH_86_64, report);
    CHECK(report.exit_code() == 1);
    const d::Finding* f = find(report, "audit.rules.exec.b64");
    REQUIRE(f != nullptr);
    CHECK(f->status == d::Status::problem);
    CHECK(f->message == "no audit rule for execve, execveat (b64): exec rules see no program start");
    REQUIRE(f->fix.size() == 2);
    CHECK(f->fix[0] == "auditctl -a always,exit -F arch=b64 -S execve,execveat -k scanwatch-exec");
    CHECK(f->fix[1].find("augenrules --load") != std::string::npos);
}

TEST_CASE("doctor: a missing 32-bit rule is a warning; exit stays 0", "[doctor]") {
    auto loaded = shipped_rules();
    loaded.erase(loaded.begin() + 1);
    d::Report report;
    d::check_audit_rules(d::audit_needs(true, false, MACH_86_64), loaded, MACH_86_64, report);
    CHECK(find(report, "audit.rules.exec.b32")->status == d::Status::warning);
    CHECK(report.exit_code() == 0);
}

TEST_CASE("doctor: half an exec rule (execve without execveat) is missing execveat", "[doctor]") {
    d::Report report;
    d::check_audit_rules(d::audit_needs(true, false, MACH_86_64),
                         {exit_rule(AUDIT_ALWAYS, kB64, MACH_86_64, {"execve"})}, MACH_86_64, report);
    CHECK(find(report, "audit.rules.exec.b64")->message ==
          "no audit rule for execveat (b64): exec rules see no program start");
}

TEST_CASE("doctor: a never rule listed first drops the calls; one with conditions does not", "[doctor]") {
    auto loaded = shipped_rules();
    loaded.insert(loaded.begin(), exit_rule(AUDIT_NEVER, kB64, MACH_86_64, {"execve"}));
    d::Report report;
    d::check_audit_rules(d::audit_needs(true, false, MACH_86_64), loaded, MACH_86_64, report);
    const d::Finding* f = find(report, "audit.rules.exec.b64");
    CHECK(f->status == d::Status::problem);
    CHECK(f->message.find("`never` rule") != std::string::npos);

    loaded[0].conditions = {"exe=/usr/bin/cron"};
    d::Report narrowed;
    d::check_audit_rules(d::audit_needs(true, false, MACH_86_64), loaded, MACH_86_64, narrowed);
    CHECK(find(narrowed, "audit.rules.exec.b64")->status == d::Status::ok);
}

TEST_CASE("doctor: a rule narrowed to one login uid is a warning; the wrong arch is missing", "[doctor]") {
    d::Report report;
    d::check_audit_rules(d::audit_needs(true, false, MACH_86_64),
                         {exit_rule(AUDIT_ALWAYS, kB64, MACH_86_64, {"execve", "execveat"}, {"auid=4343"}),
                          exit_rule(AUDIT_ALWAYS, kB64, MACH_X86, {"execve", "execveat"})},
                         MACH_86_64, report);
    const d::Finding* b64 = find(report, "audit.rules.exec.b64");
    CHECK(b64->status == d::Status::warning);
    CHECK(b64->message.find("only where auid=4343") != std::string::npos);
    // i386 numbers under arch=b64 are other calls: the b32 need is not met.
    CHECK(find(report, "audit.rules.exec.b32")->status == d::Status::warning);
    CHECK(find(report, "audit.rules.exec.b32")->message.rfind("no audit rule", 0) == 0);
}

TEST_CASE("doctor: -a never,task is a problem of its own", "[doctor]") {
    d::LoadedAuditRule task;
    task.list = AUDIT_FILTER_TASK;
    task.action = AUDIT_NEVER;
    auto loaded = shipped_rules();
    loaded.push_back(task);
    d::Report report;
    d::check_audit_rules({}, loaded, MACH_86_64, report);
    REQUIRE(report.findings.size() == 1);
    CHECK(report.findings[0].check == "audit.rules.task_never");
    CHECK(report.exit_code() == 1);
}

TEST_CASE("doctor: the kernel's rule data is read with its string fields", "[doctor]") {
    // -a always,exit -F arch=b64 -S connect -F a2!=110 -k scanwatch-net
    const std::string key = "scanwatch-net";
    std::vector<char> bytes(sizeof(audit_rule_data) + key.size());
    auto* data = reinterpret_cast<audit_rule_data*>(bytes.data());
    data->flags = AUDIT_FILTER_EXIT;
    data->action = AUDIT_ALWAYS;
    data->field_count = 3;
    data->fields[0] = AUDIT_ARCH;
    data->fieldflags[0] = AUDIT_EQUAL;
    data->values[0] = kB64;
    data->fields[1] = AUDIT_ARG2;
    data->fieldflags[1] = AUDIT_NOT_EQUAL;
    data->values[1] = 110;
    data->fields[2] = AUDIT_FILTERKEY;
    data->fieldflags[2] = AUDIT_EQUAL;
    data->values[2] = static_cast<std::uint32_t>(key.size());
    data->buflen = static_cast<std::uint32_t>(key.size());
    std::memcpy(data->buf, key.data(), key.size());
    const int connect = audit_name_to_syscall("connect", MACH_86_64);
    data->mask[connect / 32] |= 1U << (connect % 32);
    const d::LoadedAuditRule r = d::loaded_rule_from(*data, bytes.size());
    CHECK(r.has_arch);
    CHECK(r.arch == kB64);
    CHECK(r.has_syscall(connect));
    CHECK_FALSE(r.has_syscall(connect + 1));
    CHECK(r.conditions == std::vector<std::string>{"a2!=110"});
    CHECK(r.key == "scanwatch-net");
    // A message cut short reads no string past its end.
    CHECK(d::loaded_rule_from(*data, sizeof(audit_rule_data) + 4).key == "scan");
}

TEST_CASE("doctor: findings render as text and as stable JSON", "[doctor]") {
    d::Report report;
    report.add("audit.enabled", d::Status::ok, "the kernel audits (enabled 1)");
    report.add("audit.rules.exec.b64", d::Status::problem, "no audit rule for \"execve\"",
               {"auditctl -a always,exit -F arch=b64 -S execve,execveat -k scanwatch-exec"});
    report.add("audit.lost", d::Status::warning, "lost 3");
    CHECK(d::render_text(report) ==
          "ok      audit.enabled: the kernel audits (enabled 1)\n"
          "PROBLEM audit.rules.exec.b64: no audit rule for \"execve\"\n"
          "          fix: auditctl -a always,exit -F arch=b64 -S execve,execveat -k scanwatch-exec\n"
          "WARNING audit.lost: lost 3\n"
          "1 problem, 1 warning in 3 checks\n");
    CHECK(d::render_json(report) ==
          R"j({"ok":false,"problems":1,"warnings":1,"findings":[)j"
          R"j({"check":"audit.enabled","status":"ok","message":"the kernel audits (enabled 1)","fix":[]},)j"
          R"j({"check":"audit.rules.exec.b64","status":"problem","message":"no audit rule for \"execve\"",)j"
          R"j("fix":["auditctl -a always,exit -F arch=b64 -S execve,execveat -k scanwatch-exec"]},)j"
          R"j({"check":"audit.lost","status":"warning","message":"lost 3","fix":[]}]})j"
          "\n");
    d::Report fine;
    fine.add("x", d::Status::ok, "fine");
    CHECK(d::render_text(fine) == "ok      x: fine\nall 1 checks passed\n");
    CHECK(fine.exit_code() == 0);
}

TEST_CASE("doctor: plugins.d entries and auditd.conf as auditd reads them", "[doctor]") {
    const auto keys = d::parse_key_values(
        "# scanwatch\n"
        "active = yes\n"
        "Path=/usr/sbin/scanwatch\n"
        "args = plugin --config=/etc/scanwatch/scanwatch.toml\n"
        "no equals sign here\n"
        "  # indented comment = x\n");
    CHECK(keys.size() == 3);
    d::PluginEntry entry{"scanwatch.conf", keys};
    CHECK(entry.active());
    CHECK(entry.value("path") == "/usr/sbin/scanwatch");
    CHECK(entry.args() == std::vector<std::string>{"plugin", "--config=/etc/scanwatch/scanwatch.toml"});
    CHECK_FALSE(entry.is_af_unix());
    CHECK_FALSE(d::PluginEntry{"x", d::parse_key_values("active = no\n")}.active());

    const d::PluginEntry af_unix{"af_unix.conf", d::parse_key_values("active = yes\npath = builtin_af_unix\n"
                                                                     "args = 0640 /run/other_events string\n")};
    CHECK(af_unix.is_af_unix());
    CHECK(af_unix.af_unix_path() == "/run/other_events");
    CHECK(d::PluginEntry{"a", d::parse_key_values("path = /sbin/audisp-af_unix\n")}.af_unix_path() ==
          "/var/run/audispd_events");

    CHECK(d::plugin_dir_of("log_file = /x\nplugin_dir = /tmp/p/plugins.d\n") == "/tmp/p/plugins.d");
    CHECK(d::plugin_dir_of("log_file = /x\n") == "/etc/audit/plugins.d");
    using namespace std::string_literals;
    CHECK(d::auditd_config_dir("auditd\0-n\0-s\0enable\0-c\0/tmp/x\0"s) == "/tmp/x");
    CHECK(d::auditd_config_dir("/sbin/auditd\0"s) == "/etc/audit");
}

TEST_CASE("doctor: /proc/net/unix counts the accepted ends of a listener", "[doctor]") {
    const std::string text =
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 1001 /var/run/audispd_events\n"
        "0000000000000000: 00000003 00000000 00000000 0001 03 1002 /var/run/audispd_events\n"
        "0000000000000000: 00000003 00000000 00000000 0001 03 1003\n"
        "0000000000000000: 00000003 00000000 00000000 0001 03 1004 /run/other\n";
    CHECK(d::connected_unix_sockets(text, "/var/run/audispd_events") == 1);
    CHECK(d::connected_unix_sockets(text, "/nowhere") == 0);
}

TEST_CASE("doctor: what the configured user must write", "[doctor]") {
    Settings s;
    s.outputs.clear();
    s.outputs.push_back({});  // stdout: nothing to write
    scanwatch::agent::OutputSpec file;
    file.kind = scanwatch::agent::OutputKind::file;
    file.path = "/var/log/scanwatch/alerts.ndjson";
    s.outputs.push_back(file);
    s.state_file = "/var/lib/scanwatch/state.json";
    const auto needs = d::access_needs(s, [](const std::string& p) { return p == "/var/log/scanwatch/alerts.ndjson"; });
    REQUIRE(needs.size() == 3);
    CHECK(needs[0].path == "/var/log/scanwatch");
    CHECK(needs[0].mode == (W_OK | X_OK));
    CHECK(needs[1].path == "/var/log/scanwatch/alerts.ndjson");
    CHECK(needs[1].mode == W_OK);
    CHECK(needs[2].path == "/var/lib/scanwatch");
}

TEST_CASE("doctor: access is checked as the user, not as root", "[doctor]") {
    if (::geteuid() != 0) return;  // switching users needs root
    const std::vector<d::AccessNeed> needs{{"/tmp", W_OK | X_OK, "tmp"}, {"/etc", W_OK | X_OK, "etc"}};
    CHECK(d::check_access_as(0, 0, needs) == std::vector<int>{0, 0});
    CHECK(d::check_access_as(65534, 65534, needs) == std::vector<int>{0, EACCES});
}

TEST_CASE("doctor: the readers of a unix socket are named by pid (sock_diag)", "[doctor]") {
    const std::string path = "/tmp/scanwatch-doctor-test-" + std::to_string(::getpid()) + ".sock";
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ::unlink(path.c_str());
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener, 4) == 0);
    std::vector<d::SocketReader> readers;
    std::string error;
    const bool diag = d::unix_socket_readers(path, readers, error);
    if (diag) CHECK(readers.empty());  // listening, nobody connected
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    const int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(accepted >= 0);
    readers.clear();
    if (d::unix_socket_readers(path, readers, error)) {
        REQUIRE(readers.size() == 1);
        CHECK(readers[0].pid == ::getpid());
        CHECK_FALSE(readers[0].exe.empty());
    } else {
        WARN("sock_diag unavailable: " << error);
    }
    std::ifstream in("/proc/net/unix");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(d::connected_unix_sockets(text, path) == 1);
    ::close(accepted);
    ::close(client);
    ::close(listener);
    ::unlink(path.c_str());
}
