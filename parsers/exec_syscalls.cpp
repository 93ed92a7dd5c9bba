#include "parsers/exec_syscalls.h"

namespace scanwatch::parsers {
namespace {

struct ArchExec {
    std::string_view raw;
    std::string_view name;
    std::string_view execve;
    std::string_view execveat;
};

// Numbers from the kernel's syscall tables (arch/x86/entry/syscalls, asm-generic/unistd.h).
constexpr ArchExec kArches[] = {
    {"c000003e", "x86_64", "59", "322"},
    {"40000003", "i386", "11", "358"},
    {"c00000b7", "aarch64", "221", "281"},
};

struct ArchNet {
    std::string_view raw;
    std::string_view name;
    std::string_view connect;
    std::string_view socket;
};

constexpr ArchNet kNetArches[] = {
    {"c000003e", "x86_64", "42", "41"},
    {"40000003", "i386", "362", "359"},
    {"c00000b7", "aarch64", "203", "198"},
};

}  // namespace

ExecKind classify_exec(std::string_view arch, std::string_view syscall) {
    if (syscall == "execve") return ExecKind::execve;
    if (syscall == "execveat") return ExecKind::execveat;
    for (const auto& a : kArches) {
        if (arch != a.raw && arch != a.name) continue;
        if (syscall == a.execve) return ExecKind::execve;
        if (syscall == a.execveat) return ExecKind::execveat;
        return ExecKind::not_exec;
    }
    return ExecKind::not_exec;
}

bool syscall_field_read(std::string_view name) {
    // Kept in step with ExecveNormalizer::read_syscall; a corpus test replays every sample and
    // the corpus with and without this projection. Asked for every field of every exec SYSCALL.
    switch (name.size()) {
        case 3:
            return name == "pid" || name == "uid" || name == "gid" || name == "exe" ||
                   name == "key" || name == "ses";
        case 4:
            return name == "arch" || name == "ppid" || name == "auid" || name == "euid" ||
                   name == "egid" || name == "comm";
        case 7:
            return name == "syscall" || name == "success";
        default:
            return false;
    }
}

bool is_socketcall(std::string_view arch, std::string_view syscall) {
    return syscall == "socketcall" ||
           (syscall == "102" && (arch == "40000003" || arch == "i386"));
}

NetKind classify_network(std::string_view arch, std::string_view syscall, std::string_view call) {
    if (syscall == "connect") return NetKind::connect;
    if (syscall == "socket") return NetKind::socket;
    if (is_socketcall(arch, syscall)) {
        if (call == "1") return NetKind::socket;
        if (call == "3") return NetKind::connect;
        return NetKind::none;
    }
    for (const auto& a : kNetArches) {
        if (arch != a.raw && arch != a.name) continue;
        if (syscall == a.connect) return NetKind::connect;
        if (syscall == a.socket) return NetKind::socket;
        return NetKind::none;
    }
    return NetKind::none;
}

bool network_field_read(std::string_view name) {
    return syscall_field_read(name) || name == "exit" || name == "a0" || name == "a1" ||
           name == "a2";
}

std::string_view arch_name(std::string_view arch) {
    for (const auto& a : kArches) {
        if (arch == a.raw || arch == a.name) return a.name;
    }
    return {};
}

}  // namespace scanwatch::parsers
