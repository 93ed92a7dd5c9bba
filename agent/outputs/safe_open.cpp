#include "agent/outputs/safe_open.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

// The --user scanwatch switches to, when set (trust_user()).
uid_t g_trusted_uid = 0;
gid_t g_trusted_gid = 0;

bool ours_or_root(uid_t uid) {
    return uid == 0 || uid == ::geteuid() || uid == g_trusted_uid;
}

std::string folder_of(const std::string& path) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    return dir.empty() ? std::string(".") : dir;
}

}  // namespace

void trust_user(uid_t uid, gid_t gid) {
    g_trusted_uid = uid;
    g_trusted_gid = gid;
}

bool check_folder(const std::string& path, FolderTrust& trust, std::string& error) {
    const std::string dir = folder_of(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        error = fmt::format("cannot open {}: {}", path, std::strerror(errno));
        return false;
    }
    const unsigned mode = st.st_mode & 07777U;
    if (!ours_or_root(st.st_uid)) {
        error = fmt::format(
            "refusing {}: its folder {} belongs to uid {}, who could plant a symlink there; "
            "use a folder of root's",
            path, dir, st.st_uid);
        return false;
    }
    // A group that may write the folder counts as others unless it is root's or ours.
    const bool group_writes = (mode & S_IWGRP) != 0 && st.st_gid != 0 &&
                              st.st_gid != ::getegid() && st.st_gid != g_trusted_gid;
    const bool others_write = (mode & S_IWOTH) != 0 || group_writes;
    if (others_write && (mode & S_ISVTX) == 0) {
        error = fmt::format(
            "refusing {}: its folder {} (mode {:04o}) may be written by other users and is not "
            "sticky, so one could plant a symlink there; use a folder only root can write",
            path, dir, mode);
        return false;
    }
    trust = others_write ? FolderTrust::shared : FolderTrust::private_;
    return true;
}

int open_for_append(const std::string& path, std::string& error) {
    FolderTrust trust = FolderTrust::private_;
    if (!check_folder(path, trust, error)) return -1;
    constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
    int fd = ::open(path.c_str(), kFlags | O_CREAT | O_EXCL | O_NOFOLLOW, 0640);
    if (fd >= 0) return fd;
    if (errno != EEXIST) {
        error = fmt::format("cannot open {}: {}", path, std::strerror(errno));
        return -1;
    }
    // It exists. Where only root or we can write, a symlink there is the admin's (a log moved
    // elsewhere, /dev/stdout); in a shared folder anyone could have put it there.
    const bool shared = trust == FolderTrust::shared;
    fd = ::open(path.c_str(), kFlags | (shared ? O_NOFOLLOW : 0));
    if (fd < 0) {
        const int err = errno;
        error = err == ELOOP ? fmt::format("refusing {}: a symlink in a folder other users can "
                                           "write",
                                           path)
                             : fmt::format("cannot open {}: {}", path, std::strerror(err));
        return -1;
    }
    struct stat st {};
    if (shared && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !ours_or_root(st.st_uid) ||
                   st.st_nlink != 1)) {
        error = fmt::format(
            "refusing {}: in a folder other users can write it must be a regular file of ours "
            "or root's with one link",
            path);
        ::close(fd);
        return -1;
    }
    return fd;
}

int create_exclusive(const std::string& path, mode_t mode, std::string& error) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        error = fmt::format("cannot remove the leftover {}: {}", path, std::strerror(errno));
        return -1;
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return fd;
}

}  // namespace scanwatch::agent
