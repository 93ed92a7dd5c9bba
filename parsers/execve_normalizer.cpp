#include "parsers/execve_normalizer.h"

#include <grp.h>
#include <pwd.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

#include <fmt/compile.h>
#include <fmt/format.h>
#include <libaudit.h>
#include <xxhash.h>

#include "parsers/exec_syscalls.h"

namespace scanwatch::parsers {
namespace {

// ses= that names a login session: set, and not 4294967295 ((unsigned)-1, "unset").
bool has_session(std::string_view ses) { return !ses.empty() && ses != "4294967295"; }

// A process that starts services: its children are unrelated to each other, so it is never an
// ancestor two execs are grouped under (docs/detection.md, "Profiles and grouping").
bool is_service_manager(std::string_view name) {
    return name == "systemd" || name == "init" || name == "runsv" || name == "runsvdir" ||
           name == "s6-supervise" || name == "s6-svscan";
}

// Milliseconds since the epoch must fit in 64 bits (the filter allows 12 digits of seconds).
constexpr unsigned long long kMaxSeconds = 999'999'999'999ULL;

// What follows the kept prefix of a value cut to it (docs/events.md).
void append_marker(std::string& out, std::uint64_t length, XXH128_hash_t digest) {
    fmt::format_to(std::back_inserter(out), FMT_COMPILE("[scanwatch: truncated, {} bytes, xxh3-128 {:016x}{:016x}]"),
                   length, digest.high64, digest.low64);
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

template <typename Int>
bool parse_int(std::string_view s, Int& out) {
    if (s.empty()) return false;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
    return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

std::string_view str(const char* s) {
    return s == nullptr ? std::string_view{} : s;
}

}  // namespace

struct Digest {
    Digest() : state(XXH3_createState()) {
        if (state == nullptr) throw std::bad_alloc();
    }
    ~Digest() { XXH3_freeState(state); }
    Digest(const Digest&) = delete;
    Digest& operator=(const Digest&) = delete;
    XXH3_state_t* state;
};

ExecveNormalizer::ExecveNormalizer(NormalizerOptions options, Sink sink)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      processes_(options_.max_processes),
      digest_(std::make_unique<Digest>()) {}

ExecveNormalizer::~ExecveNormalizer() = default;

void ExecveNormalizer::read_id(auparse_state_t* au, std::string_view field, IdName& who,
                               IdKind kind, std::string_view names) {
    who.id = str(auparse_get_field_str(au));
    if (!names.empty()) {
        const std::string_view name = interpretations_.interpret(au, field, who.id, names);
        // auparse says "unknown(N)" when it has no name; leave the name empty then.
        if (name.substr(0, 8) != "unknown(") who.name = name;
    } else if (options_.lookup_names) {
        who.name = local_name(kind, who.id);
    }
}

// RAW logs in live modes: names from this machine, each id looked up once. auparse would look
// them up per event, and not cache ids without a name (an unset auid, a deleted user).
const std::string& ExecveNormalizer::local_name(IdKind kind, const std::string& id) {
    auto& cache = kind == IdKind::user ? user_names_ : group_names_;
    const auto found = cache.find(id);
    if (found != cache.end()) return found->second;
    if (cache.size() >= 65536) cache.clear();  // bounded; names rarely change
    std::string name;
    unsigned long number = 0;
    if (parse_int(id, number) && number != 4294967295UL) {
        std::vector<char> buffer(16384);
        if (kind == IdKind::user) {
            passwd pw{};
            passwd* result = nullptr;
            if (getpwuid_r(static_cast<uid_t>(number), &pw, buffer.data(), buffer.size(),
                           &result) == 0 &&
                result != nullptr) {
                name = result->pw_name;
            }
        } else {
            group gr{};
            group* result = nullptr;
            if (getgrgid_r(static_cast<gid_t>(number), &gr, buffer.data(), buffer.size(),
                           &result) == 0 &&
                result != nullptr) {
                name = result->gr_name;
            }
        }
    }
    return cache.emplace(id, std::move(name)).first->second;
}

// Returns whether the SYSCALL record is an exec.
bool ExecveNormalizer::read_syscall(auparse_state_t* au) {
    std::string_view arch;
    std::string_view nr;
    // ENRICHED records carry names; RAW ones get local names only when asked (live modes).
    // Every interpretation in an ENRICHED record may come from its name list: part of the key.
    const std::string_view names = str(auparse_get_record_interpretations(au));
    const auto interpret = [&](std::string_view field) {
        return interpretations_.interpret(au, field, str(auparse_get_field_str(au)), names);
    };
    if (auparse_first_field(au) <= 0) return false;
    do {
        const std::string_view name = str(auparse_get_field_name(au));
        if (name.empty()) continue;
        switch (name[0]) {
            case 'a':
                if (name == "arch") {
                    arch = str(auparse_get_field_str(au));
                    event_.arch = arch_name(arch);
                } else if (name == "auid") {
                    read_id(au, name, event_.audit_user, IdKind::user, names);
                }
                break;
            case 's':
                if (name == "ses") {
                    event_.session = str(auparse_get_field_str(au));
                } else if (name == "syscall") {
                    nr = str(auparse_get_field_str(au));
                } else if (name == "success") {
                    event_.success = str(auparse_get_field_str(au)) != "no";
                }
                break;
            case 'p':
                if (name == "pid" && !parse_int(str(auparse_get_field_str(au)), event_.pid)) {
                    ++counters_.bad_fields;
                    event_.pid = -1;
                } else if (name == "ppid" &&
                           !parse_int(str(auparse_get_field_str(au)), event_.ppid)) {
                    ++counters_.bad_fields;
                    event_.ppid = -1;
                }
                break;
            case 'u':
                if (name == "uid") read_id(au, name, event_.user, IdKind::user, names);
                break;
            case 'e':
                if (name == "euid") {
                    read_id(au, name, event_.effective_user, IdKind::user, names);
                } else if (name == "egid") {
                    read_id(au, name, event_.effective_group, IdKind::group, names);
                } else if (name == "exe") {
                    event_.executable = interpret(name);
                }
                break;
            case 'g':
                if (name == "gid") read_id(au, name, event_.group, IdKind::group, names);
                break;
            case 'c':
                if (name == "comm") event_.name = interpret(name);
                break;
            case 'k':
                if (name == "key" && str(auparse_get_field_str(au)) != "(null)") {
                    // Several keys are hex-encoded with 0x01 between them.
                    std::string_view keys = interpret(name);
                    while (!keys.empty()) {
                        const std::size_t sep = keys.find('\x01');
                        if (sep != 0) event_.tags.emplace_back(keys.substr(0, sep));
                        if (sep == std::string_view::npos) break;
                        keys.remove_prefix(sep + 1);
                    }
                }
                break;
            default:
                break;
        }
    } while (auparse_next_field(au) > 0);
    const ExecKind kind = classify_exec(arch, nr);
    if (kind == ExecKind::not_exec) return false;
    event_.syscall = kind == ExecKind::execveat ? "execveat" : "execve";
    return true;
}

// Arguments arrive in order: aN whole, or aN[0], aN[1], ... in chunks (across records). Each
// keeps at most arg_limit_ bytes; past that the rest only feeds the digest.
void ExecveNormalizer::add_arg_bytes(std::string_view value) {
    std::string& arg = event_.args.back();
    arg_length_ += value.size();
    if (arg_hashing_) {
        XXH3_128bits_update(digest_->state, value.data(), value.size());
        return;
    }
    if (arg.size() + value.size() <= arg_limit_) {
        arg.append(value);
        return;
    }
    arg_hashing_ = true;
    XXH3_128bits_reset(digest_->state);
    XXH3_128bits_update(digest_->state, arg.data(), arg.size());
    XXH3_128bits_update(digest_->state, value.data(), value.size());
    arg.append(value.substr(0, arg_limit_ - arg.size()));
}

void ExecveNormalizer::end_arg() {
    if (event_.args.empty()) return;
    std::string& arg = event_.args.back();
    if (arg_hashing_) {
        append_marker(arg, arg_length_, XXH3_128bits_digest(digest_->state));
        ++counters_.args_truncated;
        args_bytes_ += arg_limit_;
    } else {
        args_bytes_ += arg.size();
    }
    arg_hashing_ = false;
    arg_length_ = 0;
}

void ExecveNormalizer::read_execve(auparse_state_t* au) {
    if (auparse_first_field(au) <= 0) return;
    do {
        const std::string_view name = str(auparse_get_field_name(au));
        if (name.size() < 2 || name[0] != 'a') continue;
        if (name == "argc") {
            if (!parse_int(str(auparse_get_field_str(au)), event_.args_count))
                ++counters_.bad_fields;
            continue;
        }
        // aN, aN[i] (a chunk of a long argument) or aN_len (its total length, not needed).
        const std::size_t digits_end = name.find_first_not_of("0123456789", 1);
        if (digits_end == 1) continue;
        const std::string_view suffix =
            digits_end == std::string_view::npos ? std::string_view{} : name.substr(digits_end);
        if (!suffix.empty() && suffix[0] != '[') continue;
        std::size_t index = 0;
        if (!parse_int(
                name.substr(1, digits_end == std::string_view::npos ? digits_end : digits_end - 1),
                index)) {
            ++counters_.bad_fields;
            continue;
        }
        // The kernel writes a0, a1, ... in order; a gap (records lost) is filled with empty
        // arguments only up to argc, so a forged a1048575= cannot make a million of them.
        const bool continues = !suffix.empty() && index + 1 == event_.args.size();
        if (!continues && index != event_.args.size() &&
            (index < event_.args.size() || index >= event_.args_count)) {
            ++counters_.bad_arg_index;
            continue;
        }
        if (index >= kMaxArgs) {
            ++counters_.args_dropped;
            continue;
        }
        const std::string_view value =
            interpretations_.interpret(au, name, str(auparse_get_field_str(au)));
        if (!continues) {
            end_arg();
            while (event_.args.size() < index) event_.args.emplace_back();
            event_.args.emplace_back();
            arg_limit_ = std::min(kMaxArgBytes,
                                  kMaxArgsBytes - std::min(kMaxArgsBytes, args_bytes_));
        }
        add_arg_bytes(value);
    } while (auparse_next_field(au) > 0);
}

// PROCTITLE is decoded here rather than by auparse, whose interpretation of a value that is not
// hex (e.g. `()0703`) reads past its buffer: hex (NULs between arguments become spaces), a
// quoted string, or (null).
void ExecveNormalizer::read_proctitle(std::string_view raw) {
    std::string& title = event_.title;
    if (!raw.empty() && raw[0] == '"') {
        const std::size_t close = raw.find('"', 1);
        if (close == std::string_view::npos) {
            ++counters_.bad_proctitle;
            return;
        }
        title.assign(raw.substr(1, close - 1));
    } else if (raw == "(null)") {
        title.assign(raw);
    } else {
        if (raw.empty() || raw.size() % 2 != 0) {
            ++counters_.bad_proctitle;
            return;
        }
        title.reserve(raw.size() / 2);
        for (std::size_t i = 0; i < raw.size(); i += 2) {
            const int high = hex_digit(raw[i]);
            const int low = hex_digit(raw[i + 1]);
            if (high < 0 || low < 0) {
                title.clear();
                ++counters_.bad_proctitle;
                return;
            }
            const char c = static_cast<char>(high * 16 + low);
            title += c == '\0' ? ' ' : c;
        }
    }
    if (title.size() > kMaxArgBytes) {
        const XXH128_hash_t digest = XXH3_128bits(title.data(), title.size());
        const std::size_t length = title.size();
        title.resize(kMaxArgBytes);
        append_marker(title, length, digest);
        ++counters_.titles_truncated;
    }
}

// PATH item 0 (the record filter passes no other): `inode=` decimal, `dev=` the kernel's
// "%02x:%02x" of major and minor, which makedev turns into stat's st_dev.
void ExecveNormalizer::read_path(auparse_state_t* au) {
    // Field by field: auparse_find_field may run on into the event's next records.
    std::string_view item;
    std::string_view inode;
    std::string_view dev;
    if (auparse_first_field(au) <= 0) return;
    do {
        const std::string_view name = str(auparse_get_field_name(au));
        if (name == "item") {
            item = str(auparse_get_field_str(au));
        } else if (name == "inode") {
            inode = str(auparse_get_field_str(au));
        } else if (name == "dev") {
            dev = str(auparse_get_field_str(au));
        }
    } while (auparse_next_field(au) > 0);
    if (item != "0" || (inode.empty() && dev.empty())) return;  // a name that did not resolve
    const std::size_t colon = dev.find(':');
    unsigned int major_nr = 0;
    unsigned int minor_nr = 0;
    std::uint64_t inode_nr = 0;
    const auto hex = [](std::string_view s, unsigned int& out) {
        if (s.empty()) return false;
        const auto res = std::from_chars(s.data(), s.data() + s.size(), out, 16);
        return res.ec == std::errc() && res.ptr == s.data() + s.size();
    };
    if (colon == std::string_view::npos || !hex(dev.substr(0, colon), major_nr) ||
        !hex(dev.substr(colon + 1), minor_nr) || !parse_int(inode, inode_nr)) {
        ++counters_.bad_fields;
        return;
    }
    event_.inode = inode_nr;
    event_.device = makedev(major_nr, minor_nr);
    event_.has_inode = true;
}

// The parent's parent (pid `pid`, as the parent's exec gave it) of an exec without a session,
// unless it is none, pid 1, kthreadd (2) or a service manager.
void ExecveNormalizer::add_grandparent(std::int64_t pid) {
    if (pid <= 2) return;
    const auto gp = processes_.current(event_.host_id, pid, event_ref_);
    if (gp.exec_seen &&
        (is_service_manager(gp.name) || is_service_manager(basename_of(gp.executable)))) {
        return;
    }
    event_.grandparent_entity_id = gp.entity_id;
    event_.grandparent_pid = pid;
    event_.grandparent_executable = gp.executable;
}

void ExecveNormalizer::on_event(auparse_state_t* au) {
    if (auparse_first_record(au) <= 0) return;
    event_.clear();
    arg_hashing_ = false;
    arg_length_ = 0;
    args_bytes_ = 0;
    bool have_syscall = false;
    bool is_exec = false;
    bool have_execve = false;
    do {
        switch (auparse_get_type(au)) {
            case AUDIT_SYSCALL:
                have_syscall = true;
                is_exec = read_syscall(au);
                if (!is_exec) return;
                break;
            case AUDIT_EXECVE:
                have_execve = true;
                read_execve(au);
                break;
            case AUDIT_CWD:
                if (const char* raw = auparse_find_field(au, "cwd"); raw != nullptr) {
                    event_.working_directory = interpretations_.interpret(au, "cwd", raw);
                }
                break;
            case AUDIT_PATH:
                read_path(au);
                break;
            case AUDIT_PROCTITLE:
                if (const char* raw = auparse_find_field(au, "proctitle"); raw != nullptr) {
                    read_proctitle(raw);
                }
                break;
            default:
                break;
        }
    } while (auparse_next_record(au) > 0);
    end_arg();
    if (!have_execve && !is_exec) return;  // neither an exec SYSCALL nor an EXECVE record
    if (!have_syscall) {
        ++counters_.execve_without_syscall;
        event_.syscall = "execve";
    } else if (!have_execve && event_.success) {
        ++counters_.syscall_without_execve;  // a failed exec never has an EXECVE record
    }
    if (event_.args_count > event_.args.size()) ++counters_.args_missing;

    const au_event_t* stamp = auparse_get_timestamp(au);
    if (stamp != nullptr && static_cast<unsigned long long>(stamp->sec) > kMaxSeconds) {
        ++counters_.bad_timestamp;  // sec * 1000 would overflow
        return;
    }
    if (stamp != nullptr) {
        event_.time_ms = static_cast<std::int64_t>(stamp->sec) * 1000 + stamp->milli;
        event_.serial = stamp->serial;
        event_ref_.clear();
        fmt::format_to(std::back_inserter(event_ref_), FMT_COMPILE("{}.{:03}:{}"),
                       static_cast<std::int64_t>(stamp->sec), stamp->milli, stamp->serial);
    }
    const bool remote = stamp != nullptr && stamp->host != nullptr && stamp->host[0] != '\0' &&
                        stamp->host != options_.host_name && stamp->host != options_.host_id;
    if (stamp != nullptr && stamp->host != nullptr && stamp->host[0] != '\0') {
        event_.host_id = stamp->host;
        event_.host_name = stamp->host;
    } else {
        event_.host_id = options_.host_id;
        event_.host_name = options_.host_name;
    }
    // Devices and inodes name files on the machine that stat'ed the tools: another node's
    // (a collector's senders) mean nothing here (docs/detection.md).
    if (tools_ && event_.has_inode && !remote) {
        const auto found = tools_->find(FileIdentity{event_.device, event_.inode});
        if (found != tools_->end()) event_.inode_tool = found->second;
    }
    if (!event_.host_id.empty()) {
        // Parent first: its instance may start at this very event.
        if (event_.ppid >= 0) {
            const auto parent = processes_.parent(event_.host_id, event_.ppid, event_ref_);
            event_.parent_entity_id = parent.entity_id;
            event_.parent_executable = parent.executable;
            // Assigned into the reused event's buffers: no allocation once they have grown.
            event_.parent_exec_seen = parent.exec_seen;
            event_.parent_name = parent.name;
            event_.parent_args = parent.args;
            event_.parent_args_count = parent.args_count;
            if (options_.lineage && !has_session(event_.session)) {
                if (parent.exec_seen) {
                    add_grandparent(parent.parent_pid);
                } else {
                    // pid 1 and kthreadd are met once and then known: not a fork to trace.
                    event_.parent_untraced = parent.first_met && event_.ppid > 2;
                }
            }
        }
        if (event_.pid >= 0) {
            event_.entity_id =
                event_.success
                    ? processes_.start(event_.host_id, event_.pid, event_ref_, event_)
                          .entity_id
                    : processes_.current(event_.host_id, event_.pid, event_ref_).entity_id;
        }
    }
    ++counters_.execs;
    if (!event_.success) ++counters_.failed_execs;
    if (event_.syscall == "execveat") ++counters_.execveat;
    sink_(event_);
}

}  // namespace scanwatch::parsers
