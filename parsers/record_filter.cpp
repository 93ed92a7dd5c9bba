#include "parsers/record_filter.h"

#include <charconv>
#include <cstring>

#include <sys/sysmacros.h>
#include <xxhash.h>

#include "parsers/event_key.h"
#include "parsers/exec_syscalls.h"

namespace scanwatch::parsers {
namespace {

// Closed open-event entries kept for reuse.
constexpr std::size_t kSpareEvents = 256;

// Map nodes of closed events are kept (at most kSpareEvents) and given the next event's key:
// no allocation per event in the steady state.
template <typename Spares, typename Node>
void keep_node(Spares& spares, Node&& node) {
    if (!node.empty() && spares.size() < kSpareEvents) spares.push_back(std::move(node));
}

template <typename Map, typename Spares, typename Value>
void insert_node(Map& map, Spares& spares, std::uint64_t key, Value value) {
    if (spares.empty()) {
        map.emplace(key, value);
        return;
    }
    auto node = std::move(spares.back());
    spares.pop_back();
    node.key() = key;
    node.mapped() = value;
    map.insert(std::move(node));
}

// A literal prefix: its length is known here, so the comparison is a few inline instructions
// (it runs several times on every line).
template <std::size_t N>
bool starts_with(std::string_view s, const char (&prefix)[N]) {
    return s.size() >= N - 1 && std::memcmp(s.data(), prefix, N - 1) == 0;
}

// The value of ` name=` up to the next space, or empty.
std::string_view field_value(std::string_view record, std::string_view name_eq) {
    std::size_t pos = 0;
    while ((pos = record.find(name_eq, pos)) != std::string_view::npos) {
        if (pos > 0 && record[pos - 1] == ' ') {
            // To the next space or ENRICHED separator: values are short, a loop beats
            // find_first_of (a search of the two separators for every byte).
            std::size_t end = pos + name_eq.size();
            while (end < record.size() && record[end] != ' ' && record[end] != '\x1d') ++end;
            const std::size_t begin = pos + name_eq.size();
            return record.substr(begin, end - begin);
        }
        pos += name_eq.size();
    }
    return {};
}

// Whether ` name=` occurs more than once in the record.
bool repeated_field(std::string_view record, std::string_view name_eq) {
    int seen = 0;
    std::size_t pos = 0;
    while ((pos = record.find(name_eq, pos)) != std::string_view::npos) {
        if (pos > 0 && record[pos - 1] == ' ' && ++seen > 1) return true;
        pos += name_eq.size();
    }
    return false;
}

// Where the record starts: at `node=` or `type=` at the line start or after a prefix such as a
// syslog header or YAML indentation.
std::size_t record_start(std::string_view line) {
    if (starts_with(line, "node=") || starts_with(line, "type=")) return 0;
    for (std::string_view marker : {std::string_view(" node="), std::string_view(" type="),
                                    std::string_view("\tnode="), std::string_view("\ttype=")}) {
        const std::size_t at = line.find(marker);
        if (at != std::string_view::npos) return at + 1;
    }
    return std::string_view::npos;
}

// Which field names the projection keeps.
enum class Names : std::uint8_t {
    syscall,    // syscall_field_read
    network,    // network_field_read
    enriched,   // the ENRICHED names the normalizer has auparse interpret: the ids' (upper case)
};

// Whether the field at `p` is `name=` with a name of `set`. Every name read is 2, 3, 4 or 7
// characters long (exec_syscalls.h), so the '=' is looked for there rather than the name
// scanned: a prefix of another length that is followed by '=' holds a '=' or a space, and is
// no name read.
bool read_name(const char* p, const char* end, Names set) {
    const auto at = [p, end](std::size_t len) {
        return end - p > static_cast<std::ptrdiff_t>(len) && p[len] == '=';
    };
    if (set == Names::enriched) {
        if (at(3) && (std::string_view(p, 3) == "UID" || std::string_view(p, 3) == "GID")) {
            return true;
        }
        const std::string_view name(p, 4);
        return at(4) && (name == "AUID" || name == "EUID" || name == "EGID");
    }
    for (const std::size_t len : {3U, 4U, 7U, 2U}) {
        const std::string_view name(p, len);
        if (at(len) &&
            (set == Names::network ? network_field_read(name) : syscall_field_read(name))) {
            return true;
        }
    }
    return false;
}

// The field starting at `p` ends at the first space from `from` on: copied to `out` (after a
// space) when `read`. Returns where the next field starts.
const char* take_field(const char* p, const char* from, const char* end, bool read, char*& out) {
    const void* space = std::memchr(from, ' ', static_cast<std::size_t>(end - from));
    const char* field_end = space == nullptr ? end : static_cast<const char*>(space);
    if (read) {
        *out++ = ' ';
        const auto n = static_cast<std::size_t>(field_end - p);
        std::memcpy(out, p, n);
        out += n;
    }
    return field_end + 1;
}

// Writes the fields of `fields` (space-separated name=value) whose name is of `set`, each after
// a space, at `out`; returns the end of what it wrote (at most fields.size() + 1 bytes).
char* write_read_fields(char* out, std::string_view fields, Names set) {
    const char* p = fields.data();
    const char* const end = p + fields.size();
    while (p < end) {
        const bool read = read_name(p, end, set);
        p = take_field(p, p, end, read, out);
    }
    return out;
}

// As write_read_fields, for ENRICHED names (upper case) of the fields read: the rare list
// without the ids' names.
char* write_read_names(char* out, std::string_view fields, bool network) {
    const char* p = fields.data();
    const char* const end = p + fields.size();
    while (p < end) {
        constexpr std::size_t kMaxName = 8;
        char lower[kMaxName];
        std::size_t len = 0;
        const char* q = p;
        for (; q < end && *q != '=' && *q != ' ' && len < kMaxName; ++q, ++len) {
            lower[len] = *q >= 'A' && *q <= 'Z' ? static_cast<char>(*q - 'A' + 'a') : *q;
        }
        const std::string_view name(lower, len);
        const bool read = q < end && *q == '=' &&
                          (network ? network_field_read(name) : syscall_field_read(name));
        p = take_field(p, q, end, read, out);
    }
    return out;
}

// Appends the record with only the SYSCALL fields the normalizer reads (auparse parses and
// allocates every field; an exec SYSCALL has some 45 with its ENRICHED names, 14 are read).
// Fields are separated by single spaces, as auparse splits them: auditd hex-encodes any value
// with a space in it.
void append_projected_syscall(std::string& out, std::string_view record, bool network) {
    const std::size_t body = record.find("): ");
    if (body == std::string_view::npos) {
        out.append(record);
        return;
    }
    // Written in place: what is kept is never longer than the record, but for the space put
    // before the first ENRICHED name while writing.
    const std::size_t start = out.size();
    out.resize(start + record.size() + 1);
    char* const begin = &out[start];
    std::memcpy(begin, record.data(), body + 2);
    char* w = begin + body + 2;
    const std::string_view fields = record.substr(body + 3);
    const std::size_t sep = fields.find('\x1d');
    w = write_read_fields(w, fields.substr(0, sep), network ? Names::network : Names::syscall);
    if (sep != std::string_view::npos) {
        *w++ = '\x1d';
        // ENRICHED names: as auparse, the first follows the separator without a space. Only the
        // ids' are interpreted (auparse loads every name of the list for each event); a list
        // without them keeps what it had of the fields read (an empty one would change how the
        // ids are read).
        char* const mark = w;
        w = write_read_fields(w, fields.substr(sep + 1), Names::enriched);
        if (w == mark) w = write_read_names(w, fields.substr(sep + 1), network);
        if (w > mark) {
            std::memmove(mark, mark + 1, static_cast<std::size_t>(w - mark - 1));
            --w;
        }
    }
    out.resize(static_cast<std::size_t>(w - out.data()));
}

std::uint64_t node_hash(std::string_view node) { return XXH3_64bits(node.data(), node.size()); }

std::uint64_t event_hash(std::uint64_t node_key, std::string_view stamp) {
    return XXH3_64bits_withSeed(stamp.data(), stamp.size(), node_key);
}

// socket(2)'s a0 (hex, as audit logs arguments): AF_INET 2, AF_INET6 10, AF_PACKET 17. Raw and
// packet sockets are what a SYN scan or a sniffer opens; the rest (unix, netlink, ...) is local.
bool network_family_arg(std::string_view a0) { return a0 == "2" || a0 == "a" || a0 == "11"; }

// A SOCKADDR's saddr= starts with the family, a little-endian u16 in hex: "0200" AF_INET,
// "0A00" AF_INET6 (audit writes upper case hex).
bool inet_sockaddr(std::string_view saddr) {
    return saddr.size() >= 4 && saddr[0] == '0' && (saddr[1] == '2' || saddr[1] == 'A' ||
                                                     saddr[1] == 'a') &&
           saddr[2] == '0' && saddr[3] == '0';
}

}  // namespace

std::string_view malformed_name(Malformed reason) {
    switch (reason) {
        case Malformed::garbage:
            return "garbage";
        case Malformed::bad_header:
            return "bad_header";
        case Malformed::nul_byte:
            return "nul_byte";
        case Malformed::too_long:
            return "too_long";
        case Malformed::truncated:
            return "truncated";
        case Malformed::too_many_records:
            return "too_many_records";
        case Malformed::duplicate_field:
            return "duplicate_field";
    }
    return "unknown";
}

std::uint64_t FilterCounters::malformed_total() const {
    std::uint64_t total = 0;
    for (auto n : malformed) total += n;
    return total;
}

RecordFilter::RecordFilter(Sink sink, Reporter reporter, std::size_t max_line)
    : sink_(std::move(sink)), reporter_(std::move(reporter)), max_line_(max_line) {}

void RecordFilter::feed(std::string_view bytes) {
    counters_.bytes += bytes.size();
    while (!bytes.empty()) {
        const void* nl_ptr = std::memchr(bytes.data(), '\n', bytes.size());
        if (nl_ptr == nullptr) {
            if (!discarding_) {
                if (partial_.size() + bytes.size() > max_line_) {
                    ++line_no_;
                    malformed(Malformed::too_long, partial_.empty() ? bytes : partial_);
                    partial_.clear();
                    discarding_ = true;
                } else {
                    partial_.append(bytes);
                }
            }
            source_offset_ += bytes.size();
            break;
        }
        const auto nl = static_cast<std::size_t>(static_cast<const char*>(nl_ptr) - bytes.data());
        line_offset_ = source_offset_ - partial_.size();
        if (discarding_) {
            discarding_ = false;  // the over-long line was already counted
        } else if (!partial_.empty()) {
            if (partial_.size() + nl > max_line_) {
                ++line_no_;
                malformed(Malformed::too_long, partial_);
            } else {
                partial_.append(bytes.substr(0, nl));
                handle_line(partial_);
            }
            partial_.clear();
        } else if (nl > max_line_) {
            ++line_no_;
            malformed(Malformed::too_long, bytes.substr(0, nl));
        } else {
            handle_line(bytes.substr(0, nl));
        }
        source_offset_ += nl + 1;
        bytes.remove_prefix(nl + 1);
    }
    flush_batch();
}

void RecordFilter::finish() {
    if (!partial_.empty()) {
        // A file may end without a newline; the line is good if it parses as a whole record.
        std::string last;
        last.swap(partial_);
        line_offset_ = source_offset_ - last.size();
        finishing_ = true;
        handle_line(last);
        finishing_ = false;
    }
    discarding_ = false;
    flush_batch();
}

void RecordFilter::begin_source(std::uint64_t offset) {
    finish();
    line_no_ = 0;
    source_offset_ = offset;
}

void RecordFilter::malformed(Malformed reason, std::string_view line) {
    if (finishing_ && (reason == Malformed::garbage || reason == Malformed::bad_header)) {
        reason = Malformed::truncated;  // the input stopped in the middle of this line
    }
    ++counters_.malformed[static_cast<std::size_t>(reason)];
    if (reporter_) reporter_(reason, line_no_, line.substr(0, 160));
}

void RecordFilter::handle_line(std::string_view line) {
    ++line_no_;
    ++counters_.lines;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::memchr(line.data(), '\0', line.size()) != nullptr) {
        malformed(Malformed::nul_byte, line);
        return;
    }
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#' ||
        (line[first] == '-' && starts_with(line.substr(first), "----")) ||
        (line[first] == 't' && starts_with(line.substr(first), "time->"))) {
        ++counters_.ignored_lines;
        return;
    }
    const std::size_t start = record_start(line);
    if (start == std::string_view::npos) {
        malformed(Malformed::garbage, line);
        return;
    }
    std::string_view record = line.substr(start);
    std::string_view rest = record;
    std::string_view node;
    if (starts_with(rest, "node=")) {
        const std::size_t sp = rest.find(' ');
        node = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    if (!starts_with(rest, "type=")) {
        malformed(Malformed::garbage, line);
        return;
    }
    const std::size_t type_end = rest.find(' ');
    const std::string_view type =
        rest.substr(5, type_end == std::string_view::npos ? type_end : type_end - 5);
    const std::string_view stamp = audit_stamp(rest);
    if (stamp.empty()) {
        malformed(Malformed::bad_header, line);
        return;
    }
    ++counters_.records;

    const std::string_view node_name = node.empty() ? node : node.substr(5);
    if (type == "EOE") seen_eoe_ = true;
    bool keep = type == "EXECVE" || type == "EOE" || type == "CWD" ||
                (type == "PROCTITLE" &&
                 !(skip_proctitles_ && seen_eoe_ && !(exec_titles_ && network_titles_) &&
                   !title_needed(tally_of(node_name, stamp))));
    bool exec_syscall = false;
    bool connect_syscall = false;
    bool network_syscall = false;
    bool socketcall = false;
    if (type == "SYSCALL") {
        const std::string_view arch = field_value(rest, "arch=");
        const std::string_view nr = field_value(rest, "syscall=");
        // Keep what cannot be classified: the normalizer decides with the full record.
        exec_syscall = !arch.empty() && !nr.empty() && classify_exec(arch, nr) != ExecKind::not_exec;
        keep = arch.empty() || nr.empty() || exec_syscall || arch_name(arch).empty();
        if (!keep && pass_network_) {
            socketcall = is_socketcall(arch, nr);
            const std::string_view a0 = field_value(rest, "a0=");
            const NetKind net = classify_network(arch, nr, a0);
            if (net == NetKind::connect) {
                connect_syscall = network_syscall = true;
            } else if (net == NetKind::socket) {
                // socketcall(2)'s family is in its SOCKETCALL record: the normalizer decides.
                network_syscall = socketcall || network_family_arg(a0);
                if (!network_syscall) ++counters_.sockets_other_family;
            }
            keep = network_syscall;
        }
    } else if (type == "PATH" && pass_exec_paths_) {
        keep = exec_path(node.empty() ? node : node.substr(5), stamp, rest);
    } else if (type == "SOCKADDR" && pass_network_) {
        keep = network_sockaddr(node.empty() ? node : node.substr(5), stamp, rest);
    } else if (type == "SOCKETCALL" && pass_network_) {
        const EventTally* tally = tally_of(node.empty() ? node : node.substr(5), stamp);
        keep = tally != nullptr && tally->socketcall;
    }
    if (type == "SYSCALL" && !keep) {
        // A SYSCALL skipped as neither exec nor network: the rest of its event (auditd writes
        // SYSCALL first) is skipped with it, unless a record of the event already went on.
        skipped_events_[skipped_next_++ % skipped_events_.size()] =
            event_hash(node_hash(node_name), stamp) | 1U;
    } else if (keep && type != "SYSCALL" && skipped_next_ != 0 &&
               skipped_event(event_hash(node_hash(node_name), stamp) | 1U) &&
               tally_of(node_name, stamp) == nullptr) {
        ++counters_.records_skipped;
        ++counters_.records_of_skipped_events;
        return;
    }
    if (!keep) {
        ++counters_.records_skipped;
        if (type == "PROCTITLE") ++counters_.proctitles_skipped;
        return;
    }
    // libauparse 3.0.9 leaks the first of two cwd= fields.
    if (type == "CWD" && repeated_field(rest, "cwd=")) {
        malformed(Malformed::duplicate_field, line);
        return;
    }
    if (!within_event_caps(node_name, stamp, type, record.size())) {
        malformed(Malformed::too_many_records, line);
        return;
    }
    if (network_syscall) ++counters_.network_syscalls;
    bool proctitle_as_eoe = false;
    bool proctitle_flush = false;
    if (last_tally_ != nullptr) {
        if (exec_syscall) last_tally_->tally.exec = true;
        if (connect_syscall) last_tally_->tally.network = true;
        if (network_syscall && socketcall) last_tally_->tally.socketcall = true;
        if (network_syscall) last_tally_->tally.network_event = true;
        // libauparse ends an event at its EOE or PROCTITLE; a record after it with the same key
        // (a log replayed twice) starts a new one there, and here.
        if (type == "EOE" || type == "PROCTITLE") {
            // Ending the event is all its PROCTITLE does when nothing reads the title: an EOE
            // does it (one of an event no earlier record opened would be dropped by libauparse).
            // The only event of its node in flight is ended by completing what auparse holds
            // of the node: nothing more to parse.
            const EventTally& tally = last_tally_->tally;
            if (type == "PROCTITLE" && tally.execve + tally.other > 1 && !title_needed(&tally)) {
                const auto per_node = open_per_node_.find(last_tally_->node_key);
                if (ender_ && per_node != open_per_node_.end() && per_node->second == 1) {
                    proctitle_flush = true;
                    ++counters_.proctitles_flushed;
                } else {
                    proctitle_end_.assign(last_tally_->end);
                    proctitle_as_eoe = true;
                    ++counters_.proctitles_as_eoe;
                }
            }
            close_event(open_index_.at(last_tally_->key));
            flush_after_record_ = true;
        }
    }
    if (proctitle_flush) {
        if (observer_) observer_(record, line_offset_);
        flush_after_record_ = false;
        flush_batch();
        ender_(node_name);
        return;
    }
    ++counters_.records_fed;
    // Some shippers write the ENRICHED separator as the text "\u001D"; auparse needs the byte.
    const std::size_t escaped_sep = record.find("\\u001");
    if (escaped_sep != std::string_view::npos && (record.substr(escaped_sep, 6) == "\\u001D" ||
                                                  record.substr(escaped_sep, 6) == "\\u001d")) {
        scratch_.assign(record);
        scratch_.replace(escaped_sep, 6, 1, '\x1d');
        record = scratch_;
    }
    if (observer_) observer_(record, line_offset_);  // before auparse can complete its event
    if (proctitle_as_eoe) {
        batch_.append(proctitle_end_, 0, proctitle_end_.size() - 1);  // without its '\n'
    } else if (type == "SYSCALL" && project_syscalls_) {
        append_projected_syscall(batch_, record, network_syscall);
    } else if (type == "PATH") {
        // Only what the normalizer reads: auparse would split and copy every field.
        batch_.append(record.substr(0, record.find("): ") + 2));
        for (std::string_view name : {std::string_view("item="), std::string_view("inode="),
                                      std::string_view("dev=")}) {
            const std::string_view value = field_value(record, name);
            if (value.empty()) continue;
            batch_ += ' ';
            batch_.append(name);
            batch_.append(value);
        }
    } else {
        batch_.append(record);
    }
    batch_ += '\n';
    if (flush_after_record_) {
        // auparse completes the event now, before a later record with its stamp (a log given
        // twice, a record after its event was ended early) opens a new tally that the
        // completion would otherwise close.
        flush_after_record_ = false;
        flush_batch();
    }
}

bool RecordFilter::skipped_event(std::uint64_t key) const {
    return std::find(skipped_events_.begin(), skipped_events_.end(), key) != skipped_events_.end();
}

// PATH item 0 of an event whose exec SYSCALL was passed on: the file the exec ran. auditd
// writes an event's SYSCALL before its PATH records.
bool RecordFilter::exec_path(std::string_view node, std::string_view stamp,
                             std::string_view record) {
    if (field_value(record, "item=") != "0" || record.find("): ") == std::string_view::npos) {
        return false;
    }
    const EventTally* tally = tally_of(node, stamp);
    if (tally == nullptr || !tally->exec) return false;
    if (!exec_path_wanted_) return true;
    // As the normalizer reads them (ExecveNormalizer::read_path): dev=MAJ:MIN in hex, decimal inode.
    const std::string_view dev = field_value(record, "dev=");
    const std::string_view inode = field_value(record, "inode=");
    const std::size_t colon = dev.find(':');
    unsigned int major_nr = 0;
    unsigned int minor_nr = 0;
    std::uint64_t inode_nr = 0;
    const auto number = [](std::string_view s, auto& out, int base) {
        const auto res = std::from_chars(s.data(), s.data() + s.size(), out, base);
        return !s.empty() && res.ec == std::errc() && res.ptr == s.data() + s.size();
    };
    if (colon == std::string_view::npos || !number(dev.substr(0, colon), major_nr, 16) ||
        !number(dev.substr(colon + 1), minor_nr, 16) || !number(inode, inode_nr, 10) ||
        repeated_field(record, "dev=") || repeated_field(record, "inode=")) {
        return true;  // not understood here: auparse and the normalizer decide
    }
    return exec_path_wanted_(makedev(major_nr, minor_nr), inode_nr);
}

// The SOCKADDR of a connect whose SYSCALL was passed on (auditd writes SYSCALL first), when
// its address is inet or inet6: the others (unix, netlink) are local and counted.
bool RecordFilter::network_sockaddr(std::string_view node, std::string_view stamp,
                                    std::string_view record) {
    const EventTally* tally = tally_of(node, stamp);
    if (tally == nullptr || !tally->network) return false;
    if (inet_sockaddr(field_value(record, "saddr="))) return true;
    ++counters_.sockaddrs_other_family;
    return false;
}

// The tally of the open event of `node` (its name, without "node=") and `stamp`, if any.
const RecordFilter::EventTally* RecordFilter::tally_of(std::string_view node,
                                                       std::string_view stamp) const {
    const std::uint64_t key = event_hash(node_hash(node), stamp);
    if (last_tally_ != nullptr && key == last_tally_->key) return &last_tally_->tally;
    const auto found = open_index_.find(key);
    return found == open_index_.end() ? nullptr : &found->second->tally;
}

void RecordFilter::close_event(OpenList::iterator it) {
    open_bytes_ -= it->tally.bytes + it->end.size();
    const auto per_node = open_per_node_.find(it->node_key);
    if (per_node != open_per_node_.end() && --per_node->second == 0) {
        keep_node(spare_per_node_, open_per_node_.extract(per_node));
    }
    keep_node(spare_index_, open_index_.extract(it->key));
    if (last_tally_ == &*it) last_tally_ = nullptr;
    // Kept for the next event: no list node or EOE text is allocated per event in the steady state.
    if (spare_.size() < kSpareEvents) {
        spare_.splice(spare_.end(), open_, it);
    } else {
        open_.erase(it);
    }
}

// libauparse completes the event at this EOE (by its stamp, whatever other events are in flight),
// so later records of it start a new event, with a tally of its own.
void RecordFilter::end_event(OpenList::iterator it, std::uint64_t& counter, bool flush_now) {
    batch_.append(it->end);
    ++counter;
    close_event(it);
    if (flush_now) {
        flush_batch();  // auparse's completion of it may close other open events: none is held
    } else {
        flush_after_record_ = true;
    }
}

bool RecordFilter::within_event_caps(std::string_view node, std::string_view stamp,
                                     std::string_view type, std::size_t bytes) {
    const std::uint64_t node_key = node_hash(node);
    const std::uint64_t key = event_hash(node_key, stamp);
    if (last_tally_ == nullptr || key != last_tally_->key) {
        const auto found = open_index_.find(key);
        if (found != open_index_.end()) {
            last_tally_ = &*found->second;
        } else if (type == "EOE") {
            last_tally_ = nullptr;  // ends nothing in flight: nothing to count
            return true;
        } else {
            open_event(node, node_key, key, stamp);
        }
    }
    EventTally& tally = last_tally_->tally;
    const bool execve = type == "EXECVE";
    if (tally.bytes + bytes > kMaxBytesPerEvent ||
        (execve ? tally.execve >= kMaxExecveRecordsPerEvent
                : tally.other >= kMaxOtherRecordsPerEvent)) {
        return false;
    }
    tally.bytes += bytes;
    open_bytes_ += bytes;
    ++(execve ? tally.execve : tally.other);
    // Past the byte bound, the oldest others go (one event is at most kMaxBytesPerEvent).
    while (open_bytes_ > kMaxOpenBytes && open_.size() > 1) {
        auto oldest = open_.begin();
        if (&*oldest == last_tally_) ++oldest;
        OpenEvent* const current = last_tally_;
        end_event(oldest, counters_.events_ended_early, false);  // the current one is held
        last_tally_ = current;
    }
    return true;
}

void RecordFilter::open_event(std::string_view node, std::uint64_t node_key, std::uint64_t key,
                              std::string_view stamp) {
    const auto per_node = open_per_node_.find(node_key);
    if (per_node != open_per_node_.end() && per_node->second >= kMaxOpenEventsPerNode) {
        // The node's oldest: the first of its events from the front of the list.
        auto it = open_.begin();
        while (it->node_key != node_key) ++it;
        end_event(it, counters_.events_ended_early, true);
    }
    if (open_.size() >= kMaxOpenEvents) {
        end_event(open_.begin(), counters_.events_ended_early, true);
    }
    if (spare_.empty()) {
        open_.emplace_back();
    } else {
        open_.splice(open_.end(), spare_, spare_.begin());
    }
    OpenEvent& e = open_.back();
    e.key = key;
    e.node_key = node_key;
    e.tick = ticks_;
    e.tally = EventTally{};
    e.end.clear();
    if (!node.empty()) {
        e.end.append("node=").append(node).append(" ");
    }
    e.end.append("type=EOE msg=audit(").append(stamp).append("): \n");
    open_bytes_ += e.end.size();
    insert_node(open_index_, spare_index_, key, std::prev(open_.end()));
    if (const auto mine = open_per_node_.find(node_key); mine != open_per_node_.end()) {
        ++mine->second;
    } else {
        insert_node(open_per_node_, spare_per_node_, node_key, 1U);
    }
    last_tally_ = &open_.back();
}

void RecordFilter::age() {
    ++ticks_;
    while (!open_.empty() && ticks_ - open_.front().tick >= kOpenEventTicks) {
        end_event(open_.begin(), counters_.events_ended_aged, true);
    }
    flush_batch();
}

bool RecordFilter::in_flight(std::string_view node) const {
    return open_per_node_.count(node_hash(node)) != 0;
}

void RecordFilter::event_completed(std::string_view node, std::string_view stamp) {
    const auto found = open_index_.find(event_hash(node_hash(node), stamp));
    if (found != open_index_.end()) close_event(found->second);
}

void RecordFilter::flush_batch() {
    if (batch_.empty()) return;
    sink_(batch_);
    batch_.clear();
}

}  // namespace scanwatch::parsers
