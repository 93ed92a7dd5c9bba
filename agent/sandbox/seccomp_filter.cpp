#include "agent/sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#if defined(__SANITIZE_ADDRESS__)
#define SCANWATCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCANWATCH_ASAN 1
#endif
#endif

namespace scanwatch::agent {
namespace {

// The allow-list, by what needs it. Found by running the live tests (plugin, socket, tail,
// reload, file rotation, syslog, RELP, the metrics server, checkpoints) under strace -f -c and
// with the filter on (docs/operations.md, "System call filter"). A name this architecture lacks
// (open on aarch64) is skipped.
struct SyscallGroup {
    const char* why;
    std::initializer_list<const char*> names;
};

const SyscallGroup kAllowed[] = {
    {"I/O on open descriptors: the input, outputs, the event loop's pipe",
     {"read", "readv", "pread64", "preadv", "write", "writev", "pwrite64", "pwritev", "lseek", "close",
      "dup", "dup2", "dup3", "fcntl", "pipe", "pipe2", "eventfd", "eventfd2"}},
    {"files: reopen on rotation and SIGHUP, tail's log, checkpoints and the state file (write, fsync, "
     "rename), stats file, rule files on reload, /proc and /etc lookups",
     {"open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access",
      "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "rename",
      "renameat", "renameat2", "unlink", "unlinkat", "fsync", "fdatasync", "ftruncate", "truncate",
      "fchmod", "fadvise64", "flock"}},
    {"memory", {"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mlock", "munlock"}},
    {"the event loop: epoll, timers, sleeps, clocks",
     {"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
      "ppoll", "select", "pselect6", "timerfd_create", "timerfd_settime", "timerfd_gettime", "nanosleep",
      "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time"}},
    {"signals: TERM, INT, HUP, USR1 handling; abort() on a bug",
     {"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "tgkill",
      "tkill", "getpid", "gettid", "restart_syscall"}},
    {"threads: the output thread, futexes, thread exit",
     {"futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "exit", "exit_group",
      "sched_yield", "sched_getaffinity", "getrandom", "prctl", "membarrier"}},
    {"sockets of any kind: syslog (/dev/log, UDP, TCP), RELP and its reconnects, name resolution, "
     "the af_unix input, the metrics server's accept/read/write",
     {"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "getsockname",
      "getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
      "recvmmsg", "shutdown"}},
    {"identity and host: user and group names (NSS), uname for the host name, limits",
     {"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "uname",
      "getrlimit", "prlimit64", "getrusage", "sysinfo", "umask", "getppid"}},
};

// ioctl only for these requests: non-blocking and close-on-exec flags (Boost.Asio), bytes
// readable, and isatty()'s terminal queries; never TIOCSTI and the like.
const unsigned long kAllowedIoctls[] = {FIONBIO, FIONREAD, FIOCLEX, FIONCLEX, TCGETS, TIOCGWINSZ};

#ifdef SCANWATCH_ASAN
// AddressSanitizer's leak check at exit stops the world: a fork-like clone that ptrace()s the
// threads; its reports read /proc/self/maps. A symbolizer it would exec stays forbidden.
const SyscallGroup kSanitizerAllowed[] = {
    {"AddressSanitizer / LeakSanitizer",
     {"ptrace", "wait4", "waitid", "clone", "sched_getparam", "sched_getscheduler", "mincore",
      "process_vm_readv", "personality", "kill"}},
};
#endif

struct ContextDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

void check(int rc, const char* step) {
    if (rc < 0) {
        throw std::runtime_error(fmt::format(
            "cannot install the system call filter: {}: {} (--no-seccomp or seccomp = false runs "
            "without it)",
            step, std::strerror(-rc)));
    }
}

void allow(scmp_filter_ctx ctx, const SyscallGroup& group) {
    for (const char* name : group.names) {
        const int number = seccomp_syscall_resolve_name(name);
        if (number == __NR_SCMP_ERROR) continue;
        check(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0), name);
    }
}

}  // namespace

bool seccomp_sanitizer_build() {
#ifdef SCANWATCH_ASAN
    return true;
#else
    return false;
#endif
}

void install_seccomp_filter() {
    std::unique_ptr<void, ContextDeleter> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
    if (!ctx) {
        throw std::runtime_error(
            "cannot install the system call filter: seccomp_init failed (--no-seccomp or seccomp = "
            "false runs without it)");
    }
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1), "every thread");
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 1), "no_new_privs");
    for (const SyscallGroup& group : kAllowed) allow(ctx.get(), group);
    for (const unsigned long request : kAllowedIoctls) {
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(request))),
              "ioctl");
    }
#ifdef SCANWATCH_ASAN
    for (const SyscallGroup& group : kSanitizerAllowed) allow(ctx.get(), group);
#else
    // clone only for a new thread (pthread_create), never a new process.
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)),
          "clone");
#endif
    // clone3's flags are behind a pointer the filter cannot read: glibc falls back to clone.
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
    check(seccomp_load(ctx.get()), "load");
}

int seccomp_test_trigger() {
    const char* value = std::getenv("SCANWATCH_TEST_SECCOMP_TRIGGER");
    if (value == nullptr || std::strcmp(value, "1") != 0) return 0;
    // AT_EMPTY_PATH on fd -1: EBADF before anything is looked up or run.
    const long rc = ::syscall(SYS_execveat, -1, "", nullptr, nullptr, AT_EMPTY_PATH);
    return rc < 0 ? errno : 0;
}

}  // namespace scanwatch::agent
