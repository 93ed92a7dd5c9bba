#pragma once
// A system call allow-list for the live modes (docs/operations.md, "System call filter"): auditd
// starts the plugin itself, so the systemd unit's SystemCallFilter= does not cover it. Installed
// once a run has opened its input and outputs and dropped its privileges; a call outside the
// list kills the process with SIGSYS.

#include <string>

namespace scanwatch::agent {

/// Installs the filter on every thread of the process (libseccomp, TSYNC, no_new_privs): the
/// calls of agent/sandbox/seccomp_filter.cpp's table are allowed, clone only for threads,
/// clone3 fails with ENOSYS (glibc then uses clone), anything else kills the process. A build
/// with AddressSanitizer also allows what its leak check at exit needs (ptrace, fork-like clone,
/// wait4). Throws std::runtime_error naming the failing step.
void install_seccomp_filter();

/// Whether this build runs under AddressSanitizer (the filter is wider then).
bool seccomp_sanitizer_build();

/// Test only (docs/operations.md, "System call filter"): when the environment variable
/// SCANWATCH_TEST_SECCOMP_TRIGGER is 1, makes one forbidden call (execveat on fd -1, which
/// fails with EBADF and changes nothing when no filter is installed). Returns the errno it got.
int seccomp_test_trigger();

}  // namespace scanwatch::agent
