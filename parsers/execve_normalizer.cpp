#include "parsers/execve_normalizer.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
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

// The raw value of field `name` of the record `au` is on, which is left positioned on it; null
// if the record has none. auparse_find_field would copy the name on every call and run on into
// the event's next records.
const char* record_field(auparse_state_t* au, std::string_view name) {
    if (auparse_first_field(au) <= 0) return nullptr;
    do {
        if (str(auparse_get_field_name(au)) == name) return auparse_get_field_str(au);
    } while (auparse_next_field(au) > 0);
    return nullptr;
}

// Linux socket(2) values (include/linux/socket.h, net.h; netinet/in.h).
constexpr int kSockTypeMask = 0xf;  // the rest of a1 is SOCK_NONBLOCK / SOCK_CLOEXEC
constexpr std::int64_t kEinprogress = -115;

std::string_view socket_type_name(int type) {
    switch (type) {
        case SOCK_STREAM: return "stream";
        case SOCK_DGRAM: return "dgram";
        case SOCK_RAW: return "raw";
        case SOCK_RDM: return "rdm";
        case SOCK_SEQPACKET: return "seqpacket";
        case SOCK_PACKET: return "packet";
        default: return {};
    }
}

std::string_view family_name(int family) {
    switch (family) {
        case AF_INET: return "inet";
        case AF_INET6: return "inet6";
        case AF_PACKET: return "packet";
        default: return {};
    }
}

// network.transport (ECS: the IANA protocol name, lower case) of an inet socket.
std::string_view transport_name(int family, int type, int protocol) {
    if (family != AF_INET && family != AF_INET6) return {};
    switch (protocol) {
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_UDP: return "udp";
        case IPPROTO_ICMP: return "icmp";
        case IPPROTO_ICMPV6: return "ipv6-icmp";
        case 0:
            if (type == SOCK_STREAM) return "tcp";
            if (type == SOCK_DGRAM) return "udp";
            return {};
        default: return {};
    }
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

// The previous event's strings keep their buffers for the next event's arguments and tags.
void ExecveNormalizer::recycle(std::vector<std::string>& strings) {
    for (auto& text : strings) {
        if (spare_strings_.size() >= kSpareStrings) break;
        if (text.capacity() > kMaxSpareStringBytes) continue;  // a rare long one: let it go
        spare_strings_.push_back(std::move(text));
    }
    strings.clear();
}

void ExecveNormalizer::add_string(std::vector<std::string>& strings, std::string_view text) {
    if (spare_strings_.empty()) {
        strings.emplace_back(text);
        return;
    }
    strings.push_back(std::move(spare_strings_.back()));
    spare_strings_.pop_back();
    strings.back().assign(text);
}

IdName& ExecveNormalizer::id_of(IdSlot slot) {
    switch (slot) {
        case IdSlot::user: return event_.user;
        case IdSlot::effective_user: return event_.effective_user;
        case IdSlot::group: return event_.group;
        case IdSlot::effective_group: return event_.effective_group;
        case IdSlot::audit_user: return event_.audit_user;
    }
    return event_.user;
}

void ExecveNormalizer::read_id(auparse_state_t* au, std::string_view field, IdSlot slot,
                               IdKind kind, std::string_view names) {
    IdName& who = id_of(slot);
    const auto i = static_cast<std::size_t>(slot);
    const std::string_view raw = str(auparse_get_field_str(au));
    // What the last reading of this id gave, when its raw id and its record's name list were
    // these (read_syscall forgets them when the list changes): no interpretation.
    LastId& last = last_ids_[i];
    if (last.valid && same_names_ && last.id == raw) {
        who.id.assign(last.id);
        if (last.named) who.name.assign(last.name);
        return;
    }
    who.id = raw;
    last.named = false;
    if (!names.empty()) {
        const std::string_view name = interpretations_.interpret(au, field, who.id, names);
        // auparse says "unknown(N)" when it has no name; leave the name empty then.
        if (name.substr(0, 8) != "unknown(") {
            who.name = name;
            last.named = true;
        }
    } else if (options_.lookup_names) {
        who.name = local_name(kind, who.id);
        last.named = true;
    }
    last.id.assign(who.id);
    if (last.named) last.name.assign(who.name);
    last.valid = true;
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

// Classifies the SYSCALL record: an exec, a connect or socket() (network events), or other.
ExecveNormalizer::SyscallKind ExecveNormalizer::read_syscall(auparse_state_t* au) {
    std::string_view arch;
    std::string_view nr;
    // ENRICHED records carry names; RAW ones get local names only when asked (live modes).
    // Every interpretation in an ENRICHED record may come from its name list: part of the key.
    const std::string_view names = str(auparse_get_record_interpretations(au));
    // Ids read as the previous event's when its name list was this one (read_id).
    same_names_ = names == previous_names_;
    if (!same_names_) {
        previous_names_.assign(names);
        for (auto& last : last_ids_) last.valid = false;
    }
    const auto interpret = [&](std::string_view field) {
        return interpretations_.interpret(au, field, str(auparse_get_field_str(au)), names);
    };
    have_exit_ = false;
    socketcall_ = false;
    have_args_[0] = have_args_[1] = have_args_[2] = false;
    if (auparse_first_field(au) <= 0) return SyscallKind::other;
    do {
        const std::string_view name = str(auparse_get_field_name(au));
        if (name.empty()) continue;
        switch (name[0]) {
            case 'a':
                if (name.size() == 2 && name[1] >= '0' && name[1] <= '2') {
                    // Arguments are logged in hex; only connect and socket records carry them
                    // past the record filter.
                    const std::string_view v = str(auparse_get_field_str(au));
                    const auto i = static_cast<std::size_t>(name[1] - '0');
                    const auto res = std::from_chars(v.data(), v.data() + v.size(), args_[i], 16);
                    have_args_[i] = res.ec == std::errc() && res.ptr == v.data() + v.size();
                } else if (name == "arch") {
                    arch = str(auparse_get_field_str(au));
                    event_.arch = arch_name(arch);
                } else if (name == "auid") {
                    read_id(au, name, IdSlot::audit_user, IdKind::user, names);
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
                if (name == "uid") read_id(au, name, IdSlot::user, IdKind::user, names);
                break;
            case 'e':
                if (name == "euid") {
                    read_id(au, name, IdSlot::effective_user, IdKind::user, names);
                } else if (name == "egid") {
                    read_id(au, name, IdSlot::effective_group, IdKind::group, names);
                } else if (name == "exe") {
                    event_.executable = interpret(name);
                } else if (name == "exit") {
                    have_exit_ = parse_int(str(auparse_get_field_str(au)), exit_);
                }
                break;
            case 'g':
                if (name == "gid") read_id(au, name, IdSlot::group, IdKind::group, names);
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
                        if (sep != 0) add_string(event_.tags, keys.substr(0, sep));
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
    if (kind == ExecKind::not_exec) {
        // socketcall(2): a0 is the call; its arguments come in the SOCKETCALL record.
        socketcall_ = is_socketcall(arch, nr);
        std::string call;
        if (socketcall_ && have_args_[0]) call = fmt::format("{:x}", args_[0]);
        if (socketcall_) have_args_[0] = have_args_[1] = have_args_[2] = false;
        switch (classify_network(arch, nr, call)) {
            case NetKind::connect:
                event_.syscall = "connect";
                return SyscallKind::connect;
            case NetKind::socket:
                event_.syscall = "socket";
                return SyscallKind::socket;
            case NetKind::none:
                return SyscallKind::other;
        }
        return SyscallKind::other;
    }
    event_.syscall = kind == ExecKind::execveat ? "execveat" : "execve";
    return SyscallKind::exec;
}

// SOCKETCALL (i386 socketcall(2)): `nargs=3 a0=2 a1=1 a2=0`, the call's own arguments in hex.
void ExecveNormalizer::read_socketcall(auparse_state_t* au) {
    if (auparse_first_field(au) <= 0) return;
    do {
        const std::string_view name = str(auparse_get_field_name(au));
        if (name.size() != 2 || name[0] != 'a' || name[1] < '0' || name[1] > '2') continue;
        const std::string_view v = str(auparse_get_field_str(au));
        const auto i = static_cast<std::size_t>(name[1] - '0');
        const auto res = std::from_chars(v.data(), v.data() + v.size(), args_[i], 16);
        have_args_[i] = res.ec == std::errc() && res.ptr == v.data() + v.size();
    } while (auparse_next_field(au) > 0);
}

// SOCKADDR saddr= (hex of the struct sockaddr): family (little-endian u16), then for AF_INET
// the port (big-endian) and 4 address bytes, for AF_INET6 the port, 4 bytes of flow info and
// 16 address bytes. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is written as IPv4.
bool ExecveNormalizer::read_sockaddr(auparse_state_t* au) {
    std::string_view saddr;
    if (auparse_first_field(au) <= 0) return false;
    do {
        if (str(auparse_get_field_name(au)) == "saddr") saddr = str(auparse_get_field_str(au));
    } while (auparse_next_field(au) > 0);
    std::uint8_t bytes[28];
    const std::size_t n = std::min(sizeof bytes, saddr.size() / 2);
    for (std::size_t i = 0; i < n; ++i) {
        const int high = hex_digit(saddr[2 * i]);
        const int low = hex_digit(saddr[2 * i + 1]);
        if (high < 0 || low < 0) {
            ++counters_.bad_fields;
            return false;
        }
        bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    if (n < 2) return false;
    const int family = bytes[0] | (bytes[1] << 8);
    NetworkFields& net = event_.network;
    char text[INET6_ADDRSTRLEN];
    if (family == AF_INET && n >= 8) {
        net.socket_family = "inet";
        net.type = "ipv4";
        net.destination_port = (bytes[2] << 8) | bytes[3];
        if (inet_ntop(AF_INET, bytes + 4, text, sizeof text) == nullptr) return false;
        net.destination_ip = text;
        return true;
    }
    if (family == AF_INET6 && n >= 24) {
        net.socket_family = "inet6";
        net.destination_port = (bytes[2] << 8) | bytes[3];
        const std::uint8_t* addr = bytes + 8;
        static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        const bool mapped = std::equal(addr, addr + 12, kMapped);
        net.type = mapped ? "ipv4" : "ipv6";
        if (inet_ntop(mapped ? AF_INET : AF_INET6, mapped ? addr + 12 : addr, text,
                      sizeof text) == nullptr) {
            return false;
        }
        net.destination_ip = text;
        return true;
    }
    return false;
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
            while (event_.args.size() < index) add_string(event_.args, {});
            add_string(event_.args, {});
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

// Event time, serial and host from the event's stamp; false (counted) when the time is absurd.
bool ExecveNormalizer::stamp_event(auparse_state_t* au) {
    const au_event_t* stamp = auparse_get_timestamp(au);
    if (stamp != nullptr && static_cast<unsigned long long>(stamp->sec) > kMaxSeconds) {
        ++counters_.bad_timestamp;  // sec * 1000 would overflow
        return false;
    }
    if (stamp != nullptr) {
        event_.time_ms = static_cast<std::int64_t>(stamp->sec) * 1000 + stamp->milli;
        event_.serial = stamp->serial;
        char ref[64];  // 20 + 1 + 10 + 1 + 20 characters at most
        const char* const end = fmt::format_to(ref, FMT_COMPILE("{}.{:03}:{}"),
                                               static_cast<std::int64_t>(stamp->sec), stamp->milli,
                                               stamp->serial);
        event_ref_.assign(ref, static_cast<std::size_t>(end - ref));
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
    return true;
}

// Entity ids from the process table. An exec starts a new instance of its pid (when it
// succeeded); any other event belongs to the pid's current instance.
void ExecveNormalizer::link_processes(bool exec) {
    if (event_.host_id.empty()) return;
    // Parent first: its instance may start at this very event.
    if (event_.ppid >= 0) {
        // An exec counts as a child of its parent (the process table keeps parents of many
        // longest); a connect does not.
        const auto parent = exec ? processes_.parent(event_.host_id, event_.ppid, event_ref_)
                                 : processes_.current(event_.host_id, event_.ppid, event_ref_);
        event_.parent_entity_id = parent.entity_id;
        event_.parent_executable = parent.executable;
        // Assigned into the reused event's buffers: no allocation once they have grown.
        event_.parent_exec_seen = parent.exec_seen;
        event_.parent_name = parent.name;
        event_.parent_args = parent.args;
        event_.parent_args_count = parent.args_count;
        if (exec && options_.lineage && !has_session(event_.session)) {
            if (parent.exec_seen) {
                add_grandparent(parent.parent_pid);
            } else {
                // pid 1 and kthreadd are met once and then known: not a fork to trace.
                event_.parent_untraced = parent.first_met && event_.ppid > 2;
            }
        }
    }
    if (event_.pid < 0) return;
    if (exec) {
        event_.entity_id =
            event_.success
                ? processes_.start(event_.host_id, event_.pid, event_ref_, event_).entity_id
                : processes_.current(event_.host_id, event_.pid, event_ref_).entity_id;
        return;
    }
    // A network event: the process's own arguments come from the exec that started it.
    const auto self = processes_.current(event_.host_id, event_.pid, event_ref_);
    event_.entity_id = self.entity_id;
    if (self.exec_seen) {
        for_each_packed(self.args, [this](std::string_view arg) {
            add_string(event_.args, arg);
            return false;
        });
        event_.args_count = self.args_count;
    }
}

void ExecveNormalizer::socket_of_connect() {
    if (!have_args_[0]) return;
    socket_key_.clear();
    fmt::format_to(std::back_inserter(socket_key_), FMT_COMPILE("{}\0{}\0{}"), event_.host_id,
                   event_.pid, args_[0]);
    const auto found = sockets_.find(socket_key_);
    if (found == sockets_.end()) return;
    const SocketInfo& info = found->second;
    event_.network.transport = transport_name(info.family, info.type, info.protocol);
    event_.network.socket_type = socket_type_name(info.type);
}

void ExecveNormalizer::remember_socket() {
    socket_key_.clear();
    fmt::format_to(std::back_inserter(socket_key_), FMT_COMPILE("{}\0{}\0{}"), event_.host_id,
                   event_.pid, exit_);
    SocketInfo info{static_cast<int>(args_[0]), static_cast<int>(args_[1]) & kSockTypeMask,
                    static_cast<int>(args_[2])};
    auto found = sockets_.find(socket_key_);
    if (found != sockets_.end()) {
        found->second = info;  // the fd was closed and reused (close is not audited)
        return;
    }
    ++counters_.sockets_tracked;
    if (socket_order_.size() < kMaxSockets) {
        socket_order_.push_back(socket_key_);
    } else {
        sockets_.erase(socket_order_[next_socket_]);
        socket_order_[next_socket_] = socket_key_;
        next_socket_ = (next_socket_ + 1) % kMaxSockets;
        ++counters_.sockets_evicted;
    }
    sockets_.emplace(socket_key_, info);
}

// connect: an event when its address is inet or inet6. socket(): remembered for later
// connects; an event of its own when raw or packet.
void ExecveNormalizer::finish_network(auparse_state_t* au, SyscallKind kind,
                                      bool have_address) {
    NetworkFields& net = event_.network;
    if (kind == SyscallKind::connect) {
        if (!have_address) {
            ++counters_.connects_without_address;
            return;
        }
        event_.kind = EventKind::connect;
        net.exit = have_exit_ ? exit_ : 0;
        // A non-blocking connect returns EINPROGRESS: an attempt whose result audit never sees.
        net.outcome = event_.success ? "success"
                      : (have_exit_ && exit_ == kEinprogress) ? "unknown"
                                                              : "failure";
        if (!stamp_event(au)) return;
        socket_of_connect();
        link_processes(false);
        ++counters_.connects;
        sink_(event_);
        return;
    }
    if (!have_args_[0] || !have_args_[1]) {
        ++counters_.bad_fields;
        return;
    }
    if (!stamp_event(au)) return;
    const int family = static_cast<int>(args_[0]);
    const int type = static_cast<int>(args_[1]) & kSockTypeMask;
    const int protocol = have_args_[2] ? static_cast<int>(args_[2]) : 0;
    // socketcall(2) is passed whatever its family (the record filter cannot see it).
    if (family_name(family).empty()) return;
    if (event_.success && have_exit_ && exit_ >= 0) remember_socket();
    if (type != SOCK_RAW && type != SOCK_PACKET && family != AF_PACKET) return;
    event_.kind = EventKind::socket;
    net.exit = have_exit_ ? exit_ : 0;
    net.outcome = event_.success ? "success" : "failure";
    net.socket_family = family_name(family);
    net.socket_type = socket_type_name(type);
    net.transport = type == SOCK_RAW ? transport_name(family, 0, protocol) : std::string_view{};
    net.type = family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "";
    link_processes(false);
    ++counters_.raw_sockets;
    sink_(event_);
}

void ExecveNormalizer::on_event(auparse_state_t* au) {
    if (auparse_first_record(au) <= 0) return;
    recycle(event_.args);
    recycle(event_.tags);
    event_.clear();
    arg_hashing_ = false;
    arg_length_ = 0;
    args_bytes_ = 0;
    bool have_syscall = false;
    bool is_exec = false;
    bool have_execve = false;
    bool have_address = false;
    SyscallKind kind = SyscallKind::other;
    do {
        switch (auparse_get_type(au)) {
            case AUDIT_SYSCALL:
                have_syscall = true;
                kind = read_syscall(au);
                is_exec = kind == SyscallKind::exec;
                if (kind == SyscallKind::other) return;
                break;
            case AUDIT_EXECVE:
                if (kind == SyscallKind::connect || kind == SyscallKind::socket) break;
                have_execve = true;
                read_execve(au);
                break;
            case AUDIT_SOCKADDR:
                if (kind == SyscallKind::connect) have_address = read_sockaddr(au);
                break;
            case AUDIT_SOCKETCALL:
                if (socketcall_) read_socketcall(au);
                break;
            case AUDIT_CWD:
                if (const char* raw = record_field(au, "cwd"); raw != nullptr) {
                    event_.working_directory = interpretations_.interpret(au, "cwd", raw);
                }
                break;
            case AUDIT_PATH:
                read_path(au);
                break;
            case AUDIT_PROCTITLE:
                if (const char* raw = record_field(au, "proctitle"); raw != nullptr) {
                    read_proctitle(raw);
                }
                break;
            default:
                break;
        }
    } while (auparse_next_record(au) > 0);
    if (kind == SyscallKind::connect || kind == SyscallKind::socket) {
        finish_network(au, kind, have_address);
        return;
    }
    end_arg();
    if (!have_execve && !is_exec) return;  // neither an exec SYSCALL nor an EXECVE record
    if (!have_syscall) {
        ++counters_.execve_without_syscall;
        event_.syscall = "execve";
    } else if (!have_execve && event_.success) {
        ++counters_.syscall_without_execve;  // a failed exec never has an EXECVE record
    }
    if (event_.args_count > event_.args.size()) ++counters_.args_missing;
    if (!stamp_event(au)) return;
    link_processes(true);
    ++counters_.execs;
    if (!event_.success) ++counters_.failed_execs;
    if (event_.syscall == "execveat") ++counters_.execveat;
    sink_(event_);
}

}  // namespace scanwatch::parsers
