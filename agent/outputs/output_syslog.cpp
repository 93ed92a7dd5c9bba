#include "agent/outputs/output_syslog.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

using namespace std::chrono_literals;

// A blackholed receiver or one that stopped reading holds the writer thread (or a replay) this
// long per attempt at most; the backoff between attempts grows to 5 s. Waits are polled in
// slices, so that stop_by() (the exit grace) cuts a wait already under way short.
constexpr auto kConnectTimeout = 3s;
constexpr auto kSendTimeout = 5s;
constexpr auto kWaitSlice = 100ms;

using SteadyClock = std::chrono::steady_clock;

std::string errno_text(int err) {
    return err == EAGAIN || err == EWOULDBLOCK ? std::string("timed out")
                                               : std::string(std::strerror(err));
}

}  // namespace

int syslog_severity(std::string_view rule_severity) {
    if (rule_severity == "low") return 5;
    if (rule_severity == "medium") return 4;
    if (rule_severity == "high") return 3;
    if (rule_severity == "critical") return 2;
    return 4;
}

std::string_view alert_rule_severity(std::string_view line) {
    constexpr std::string_view key = R"("kibana.alert.rule.severity":")";
    const auto at = line.find(key);
    if (at == std::string_view::npos) return {};
    const auto start = at + key.size();
    const auto end = line.find('"', start);
    if (end == std::string_view::npos) return {};
    return line.substr(start, end - start);
}

std::string format_rfc5424(int pri, std::chrono::system_clock::time_point time,
                           std::string_view hostname, long pid, std::string_view msg) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
    const std::time_t secs =
        static_cast<std::time_t>(us / 1'000'000 - (us % 1'000'000 < 0 ? 1 : 0));
    const auto frac = us - static_cast<long long>(secs) * 1'000'000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::string host;
    for (char c : hostname.substr(0, 255)) host += c > ' ' && c < '\x7f' ? c : '_';
    if (host.empty()) host = "-";
    return fmt::format("<{}>1 {:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {} scanwatch {} - - {}",
                       pri, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec, frac, host, pid, msg);
}

std::string format_local(int pri, std::chrono::system_clock::time_point time, long pid,
                         std::string_view msg) {
    static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t secs = std::chrono::system_clock::to_time_t(time);
    std::tm tm{};
    localtime_r(&secs, &tm);
    return fmt::format("<{}>{} {:2} {:02}:{:02}:{:02} scanwatch[{}]: {}", pri,
                       kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec, pid, msg);
}

std::string frame_octet_counted(std::string_view msg) {
    return fmt::format("{} {}", msg.size(), msg);
}

// ---- SyslogOutput -----------------------------------------------------------------------------

void SyslogOutput::stop_by(SteadyClock::time_point deadline) {
    stop_by_ = deadline.time_since_epoch().count();
}

// Waits until `fd` can take bytes, until `until` or stop_by(), whichever comes first.
bool SyslogOutput::wait_writable(int fd, SteadyClock::time_point until) const {
    for (;;) {
        const SteadyClock::time_point stop{SteadyClock::duration(stop_by_.load())};
        const auto end = std::min(until, stop);
        const auto now = SteadyClock::now();
        if (now >= end) return false;
        const auto slice = std::min<SteadyClock::duration>(end - now, kWaitSlice);
        pollfd p{fd, POLLOUT, 0};
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(slice).count();
        const int r = ::poll(&p, 1, static_cast<int>(ms));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

// Connects the non-blocking `fd` within kConnectTimeout or stop_by(). 0 or an errno value.
int SyslogOutput::connect_within(int fd, const sockaddr* addr, socklen_t len) const {
    if (::connect(fd, addr, len) == 0) return 0;
    int err = errno;
    if (err != EINPROGRESS) return err;
    if (!wait_writable(fd, SteadyClock::now() + kConnectTimeout)) return ETIMEDOUT;
    socklen_t elen = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    return err;
}

SyslogOutput::SyslogOutput(OutputSpec target, std::string hostname, long pid)
    : Output(target.text, target.backlog),
      target_(std::move(target)),
      hostname_(std::move(hostname)),
      pid_(pid) {}

SyslogOutput::~SyslogOutput() {
    disconnect();
}

bool SyslogOutput::connect(std::string& error) {
    if (target_.kind == OutputKind::syslog_local) {
        // Non-blocking like every socket here: sends poll, so stop_by() can end a wait.
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ < 0) {
            error = fmt::format("cannot create a socket: {}", std::strerror(errno));
            return false;
        }
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, target_.path.c_str(), target_.path.size() + 1);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            error = fmt::format("cannot connect: {}", std::strerror(errno));
            disconnect();
            return false;
        }
        return true;
    }
    const bool tcp = target_.kind == OutputKind::syslog_tcp;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(target_.port);
    if (const int rc = ::getaddrinfo(target_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        error = fmt::format("cannot resolve {}: {}", target_.host, ::gai_strerror(rc));
        return false;
    }
    int err = 0;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd_ < 0) {
            err = errno;
            continue;
        }
        err = connect_within(fd_, a->ai_addr, a->ai_addrlen);
        if (err == 0) break;
        disconnect();
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) {
        error =
            fmt::format("cannot connect: {}", err == ETIMEDOUT ? std::string("timed out")
                                                               : std::string(std::strerror(err)));
        return false;
    }
    return true;
}

void SyslogOutput::disconnect() {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
}

bool SyslogOutput::peer_closed() {
    // Plain TCP syslog has no acknowledgement; a receiver that went away (rsyslog restarted or
    // killed) has at least closed its end, which shows here before we write into the void.
    std::array<char, 512> buf{};
    for (;;) {
        const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n == 0) return true;
        if (n > 0) continue;  // receivers say nothing on plain TCP syslog; ignore what they say
        if (errno == EINTR) continue;
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
}

std::string SyslogOutput::format(std::string_view line,
                                 std::chrono::system_clock::time_point time) const {
    const int pri = syslog_pri(target_.facility, syslog_severity(alert_rule_severity(line)));
    if (target_.kind == OutputKind::syslog_local) return format_local(pri, time, pid_, line);
    return format_rfc5424(pri, time, hostname_, pid_, line);
}

WriteResult SyslogOutput::write(std::string_view line, std::chrono::system_clock::time_point time,
                                std::string& error) {
    const bool udp = target_.kind == OutputKind::syslog_udp;
    const bool tcp = target_.kind == OutputKind::syslog_tcp;
    if (udp && !resend_refused(error)) return WriteResult::failed;
    if (fd_ >= 0 && tcp && peer_closed()) disconnect();
    std::string message = format(line, time);
    if (tcp) message = frame_octet_counted(message);
    const WriteResult result = send_message(message, error);
    if (result != WriteResult::ok || !udp) return result;
    // On loopback and most LANs the port-unreachable is back before send() returns.
    if (refused(error)) return WriteResult::failed;
    last_sent_ = std::move(message);
    return WriteResult::ok;
}

bool SyslogOutput::resend_refused(std::string& error) {
    if (refused(error)) {
        // Taken (and counted written) a moment ago, but it never arrived: it goes first.
        refused_ = std::move(last_sent_);
        last_sent_.clear();
        return false;
    }
    if (refused_.empty()) return true;
    if (send_message(refused_, error) != WriteResult::ok || refused(error)) return false;
    last_sent_ = std::move(refused_);
    refused_.clear();
    return true;
}

bool SyslogOutput::flush(std::string& error) {
    return target_.kind != OutputKind::syslog_udp || resend_refused(error);
}

WriteResult SyslogOutput::send_message(const std::string& message, std::string& error) {
    // A receiver that restarted since the last line (rsyslog recreates /dev/log; a TCP peer may
    // reset) gets one fresh connection at once. Not UDP: a refusal there is about the receiver.
    for (int round = 0; round < 2; ++round) {
        if (fd_ < 0 && !connect(error)) return WriteResult::failed;
        std::size_t done = 0;
        int err = 0;
        const auto give_up = SteadyClock::now() + kSendTimeout;
        while (done < message.size()) {
            const ssize_t n = ::send(fd_, message.data() + done, message.size() - done,
                                     MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                done += static_cast<std::size_t>(n);
                continue;
            }
            err = errno;
            if (err == EINTR) continue;
            if ((err == EAGAIN || err == EWOULDBLOCK) && wait_writable(fd_, give_up)) continue;
            break;
        }
        if (done == message.size()) return WriteResult::ok;
        if (err == EMSGSIZE) {
            error = fmt::format("{} bytes is too large for one datagram", message.size());
            return WriteResult::rejected;
        }
        // A frame cut short leaves the stream unusable: the whole line goes again on a new one.
        error = fmt::format("cannot send: {}", errno_text(err));
        disconnect();
        const bool stale =
            err == ECONNREFUSED || err == ECONNRESET || err == EPIPE || err == ENOTCONN;
        if (!stale || done > 0 || target_.kind == OutputKind::syslog_udp) break;
    }
    return WriteResult::failed;
}

bool SyslogOutput::refused(std::string& error) {
    if (fd_ < 0 || target_.kind != OutputKind::syslog_udp) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) return false;
    error = fmt::format("the receiver refused a datagram ({})", std::strerror(err));
    return true;
}

}  // namespace scanwatch::agent
