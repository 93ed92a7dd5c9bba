#include "agent/doctor/host_checks.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace scanwatch::agent::doctor {
namespace {

std::string folder_of(const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

void need_file(std::vector<AccessNeed>& needs, const std::string& path, const std::string& what,
               const std::function<bool(const std::string&)>& exists) {
    if (path.empty()) return;
    needs.push_back({folder_of(path), W_OK | X_OK, what + " (its folder)"});
    if (exists(path)) needs.push_back({path, W_OK, what});
}

// Reads a whole small /proc file; empty when it cannot.
std::string read_small(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The inodes of the sockets accepted on the listener at `path` whose peer is known.
bool peer_inodes(const std::string& path, std::set<std::uint32_t>& peers, std::string& error) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        error = fmt::format("sock_diag: {}", std::strerror(errno));
        return false;
    }
    struct {
        nlmsghdr header;
        unix_diag_req request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request.sdiag_family = AF_UNIX;
    message.request.udiag_states = ~0U;
    message.request.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
        error = fmt::format("sock_diag: {}", std::strerror(errno));
        ::close(fd);
        return false;
    }
    alignas(nlmsghdr) char buffer[32 * 1024];
    bool done = false;
    bool ok = true;
    while (!done) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            error = fmt::format("sock_diag: {}", n < 0 ? std::strerror(errno) : "no answer");
            ok = false;
            break;
        }
        auto length = static_cast<unsigned int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length); h = NLMSG_NEXT(h, length)) {
            if (h->nlmsg_type == NLMSG_DONE) {
                done = true;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                error = fmt::format("sock_diag: {} (is the unix_diag module loaded?)", std::strerror(-e->error));
                done = true;
                ok = false;
                break;
            }
            const auto* msg = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
            if (msg->udiag_state != 1 /* TCP_ESTABLISHED */) continue;
            std::string name;
            std::uint32_t peer = 0;
            int attributes = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *msg));
            for (auto* a = reinterpret_cast<rtattr*>(const_cast<unix_diag_msg*>(msg + 1)); RTA_OK(a, attributes);
                 a = RTA_NEXT(a, attributes)) {
                if (a->rta_type == UNIX_DIAG_NAME) {
                    name.assign(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a));
                } else if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof peer) {
                    std::memcpy(&peer, RTA_DATA(a), sizeof peer);
                }
            }
            while (!name.empty() && name.back() == '\0') name.pop_back();
            if (name == path && peer != 0) peers.insert(peer);
        }
    }
    ::close(fd);
    return ok;
}

}  // namespace

std::vector<AccessNeed> access_needs(const Settings& s,
                                     const std::function<bool(const std::string&)>& exists) {
    std::vector<AccessNeed> needs;
    for (const OutputSpec& spec : s.outputs) {
        if (spec.kind == OutputKind::file) need_file(needs, spec.path, "alerts output file:" + spec.path, exists);
    }
    if (s.events && s.events->kind == OutputKind::file) {
        need_file(needs, s.events->path, "events output " + s.events->path, exists);
    }
    need_file(needs, s.stats_file, "stats file " + s.stats_file, exists);
    need_file(needs, s.state_file, "state file " + s.state_file, exists);
    return needs;
}

std::vector<int> check_access_as(uid_t uid, gid_t gid, const std::vector<AccessNeed>& needs) {
    const auto check_all = [&needs]() {
        std::vector<int> errors;
        for (const AccessNeed& need : needs) {
            errors.push_back(::faccessat(AT_FDCWD, need.path.c_str(), need.mode, AT_EACCESS) == 0 ? 0 : errno);
        }
        return errors;
    };
    if (uid == 0 && ::geteuid() == 0) return check_all();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(fmt::format("cannot check access as uid {}: {}", uid, std::strerror(errno)));
    }
    const pid_t child = ::fork();
    if (child < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::runtime_error(fmt::format("cannot check access as uid {}: {}", uid, std::strerror(errno)));
    }
    if (child == 0) {
        ::close(fds[0]);
        // As the run will be after drop_privileges(): that uid and gid, no supplementary groups.
        if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) {
            ::_exit(3);
        }
        const std::vector<int> errors = check_all();
        const auto bytes = static_cast<ssize_t>(errors.size() * sizeof(int));
        ::_exit(::write(fds[1], errors.data(), static_cast<std::size_t>(bytes)) == bytes ? 0 : 4);
    }
    ::close(fds[1]);
    std::vector<int> errors(needs.size(), 0);
    std::size_t got = 0;
    auto* out = reinterpret_cast<char*>(errors.data());
    const std::size_t want = errors.size() * sizeof(int);
    while (got < want) {
        const ssize_t n = ::read(fds[0], out + got, want - got);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != want || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(fmt::format("cannot check access as uid {} gid {}: the check could not "
                                             "switch to that user (run doctor as root)", uid, gid));
    }
    return errors;
}

bool unix_socket_readers(const std::string& path, std::vector<SocketReader>& readers,
                         std::string& error) {
    std::set<std::uint32_t> peers;
    if (!peer_inodes(path, peers, error)) return false;
    if (peers.empty()) return true;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) {
        error = fmt::format("cannot read /proc: {}", std::strerror(errno));
        return false;
    }
    while (const dirent* entry = ::readdir(proc)) {
        const std::string pid = entry->d_name;
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string fd_dir = "/proc/" + pid + "/fd";
        DIR* fds = ::opendir(fd_dir.c_str());
        if (fds == nullptr) continue;
        bool found = false;
        while (const dirent* fd = ::readdir(fds)) {
            char target[64];
            const std::string link = fd_dir + "/" + fd->d_name;
            const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = '\0';
            unsigned long inode = 0;
            if (std::sscanf(target, "socket:[%lu]", &inode) == 1 && peers.count(static_cast<std::uint32_t>(inode)) > 0) {
                found = true;
                break;
            }
        }
        ::closedir(fds);
        if (!found) continue;
        SocketReader reader;
        reader.pid = std::stoi(pid);
        reader.comm = read_small("/proc/" + pid + "/comm");
        while (!reader.comm.empty() && reader.comm.back() == '\n') reader.comm.pop_back();
        std::error_code ec;
        reader.exe = std::filesystem::read_symlink("/proc/" + pid + "/exe", ec).string();
        readers.push_back(std::move(reader));
    }
    ::closedir(proc);
    return true;
}

int connected_unix_sockets(std::string_view proc_net_unix, std::string_view path) {
    int count = 0;
    std::istringstream in{std::string(proc_net_unix)};
    std::string line;
    std::getline(in, line);  // the header: Num RefCount Protocol Flags Type St Inode Path
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string num, refcount, protocol, flags, type, state, inode, name;
        if (!(fields >> num >> refcount >> protocol >> flags >> type >> state >> inode >> name)) continue;
        if (state == "03" && name == path) ++count;
    }
    return count;
}

}  // namespace scanwatch::agent::doctor
