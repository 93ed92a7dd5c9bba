#pragma once
// Which (arch, syscall) pairs are an execve or execveat, from the raw SYSCALL fields.

#include <string_view>

namespace scanwatch::parsers {

/// Classification of a SYSCALL record's arch/syscall pair.
enum class ExecKind { not_exec, execve, execveat };

/// `arch` and `syscall` as logged: raw (`c000003e`, `59`) or interpreted (`x86_64`, `execve`).
/// Knows x86_64 (59/322), i386 (11/358) and aarch64 (221/281).
ExecKind classify_exec(std::string_view arch, std::string_view syscall);

/// Classification of a SYSCALL record's arch/syscall pair for network events.
enum class NetKind { none, connect, socket };

/// `arch` and `syscall` as logged, raw or interpreted. Knows x86_64 (connect 42, socket 41),
/// i386 (362, 359) and aarch64 (203, 198); for i386 socketcall(2) (102), `call` is its a0
/// (hex, as logged: 1 SYS_SOCKET, 3 SYS_CONNECT), whose arguments are in the SOCKETCALL record.
NetKind classify_network(std::string_view arch, std::string_view syscall,
                         std::string_view call = {});

/// Whether this arch/syscall pair is i386 socketcall(2).
bool is_socketcall(std::string_view arch, std::string_view syscall);

/// Whether the normalizer reads this SYSCALL field of a connect or socket record: the exec
/// fields plus exit and the arguments a0-a2 (lower case, as syscall_field_read).
bool network_field_read(std::string_view name);

/// The ECS-friendly architecture name for a raw or interpreted arch value; empty if unknown.
std::string_view arch_name(std::string_view arch);

/// Whether ExecveNormalizer reads this SYSCALL field (lower case; an ENRICHED name such as `UID`
/// is asked for in lower case). RecordFilter passes only these on to auparse. Every name it or
/// network_field_read accepts is 2, 3, 4 or 7 characters long: the filter asks only about those.
bool syscall_field_read(std::string_view name);

}  // namespace scanwatch::parsers
