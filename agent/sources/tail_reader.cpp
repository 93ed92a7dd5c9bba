#include "agent/sources/tail_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace scanwatch::agent {

std::optional<FileId> file_id_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::nullopt;
    return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

std::optional<FileId> file_id_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

namespace {

std::uint64_t size_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

TailReader::TailReader(std::string path, std::size_t chunk) : path_(std::move(path)), buffer_(chunk) {}

TailReader::~TailReader() {
    if (fd_ >= 0) ::close(fd_);
}

std::vector<std::string> TailReader::siblings() const {
    const auto slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash == 0 ? 1 : slash);
    const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    unsigned highest = 0;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d)) {
            const std::string_view name = e->d_name;
            if (name.size() <= base.size() + 1 || name.compare(0, base.size(), base) != 0 ||
                name[base.size()] != '.') {
                continue;
            }
            unsigned n = 0;
            const char* first = name.data() + base.size() + 1;
            const auto res = std::from_chars(first, name.data() + name.size(), n);
            if (res.ec == std::errc() && res.ptr == name.data() + name.size()) highest = std::max(highest, n);
        }
        ::closedir(d);
    }
    std::vector<std::string> out{path_};
    for (unsigned n = 1; n <= highest; ++n) out.push_back(fmt::format("{}.{}", path_, n));
    return out;
}

std::optional<std::string> TailReader::find_by_id(FileId id) const {
    for (const auto& name : siblings()) {
        if (file_id_of(name) == id) return name;
    }
    return std::nullopt;
}

bool TailReader::open_file(const std::string& name, std::uint64_t offset, std::string& error) {
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = fmt::format("cannot open {}: {}", name, std::strerror(errno));
        return false;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    current_id_ = file_id_of(fd).value_or(FileId{});
    current_name_ = name;
    offset_ = std::min(offset, size_of(fd));
    ::lseek(fd_, static_cast<off_t>(offset_), SEEK_SET);
    return true;
}

bool TailReader::start(const std::optional<TailPosition>& saved, bool from_end, std::string& error) {
    if (saved) {
        if (auto name = find_by_id(saved->file)) {
            if (!open_file(*name, saved->offset, error)) return false;
            if (offset_ < saved->offset) {
                error = fmt::format("{} is shorter than the saved offset {}: it was truncated; "
                                    "reading it from the start",
                                    *name, saved->offset);
                offset_ = 0;
                ::lseek(fd_, 0, SEEK_SET);
            }
            return true;
        }
        // The file rotated out of the set (or was deleted) while we were down: everything still
        // here is newer, so start at the oldest of it.
        const auto names = siblings();
        for (auto it = names.rbegin(); it != names.rend(); ++it) {
            std::string ignored;
            if (open_file(*it, 0, ignored)) {
                error = fmt::format("the saved file (inode {}) is gone; events between it and {} are lost",
                                    saved->file.ino, *it);
                return true;
            }
        }
        return open_file(path_, 0, error);
    }
    if (!open_file(path_, 0, error)) return false;
    if (from_end) {
        offset_ = size_of(fd_);
        ::lseek(fd_, static_cast<off_t>(offset_), SEEK_SET);
    }
    return true;
}

bool TailReader::drain(const DataSink& sink) {
    bool any = false;
    for (;;) {
        const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
        if (n > 0) {
            sink(std::string_view(buffer_.data(), static_cast<std::size_t>(n)), offset_);
            offset_ += static_cast<std::uint64_t>(n);
            any = true;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return any;
    }
}

bool TailReader::poll(const DataSink& sink, const SwitchObserver& on_switch) {
    bool progress = false;
    for (int moves = 0; moves < 64; ++moves) {
        if (fd_ < 0) {
            std::string error;
            if (!open_file(path_, 0, error)) {
                if (!waiting_reported_) on_switch(path_, FileId{}, error);
                waiting_reported_ = true;
                return progress;
            }
            waiting_reported_ = false;
            on_switch(current_name_, current_id_, "opened");
        }
        progress |= drain(sink);

        const auto live = file_id_of(path_);
        if (live && *live == current_id_) {
            const std::uint64_t size = size_of(fd_);
            if (size >= offset_) return progress;
            // copytruncate: what was appended before the copy is at the end of path.1.
            const std::string copy = path_ + ".1";
            const int cfd = ::open(copy.c_str(), O_RDONLY | O_CLOEXEC);
            if (cfd >= 0 && size_of(cfd) > offset_ && file_id_of(cfd) != current_id_) {
                std::uint64_t at = offset_;
                ::lseek(cfd, static_cast<off_t>(at), SEEK_SET);
                ssize_t n;
                while ((n = ::read(cfd, buffer_.data(), buffer_.size())) > 0) {
                    sink(std::string_view(buffer_.data(), static_cast<std::size_t>(n)), at);
                    at += static_cast<std::uint64_t>(n);
                }
                progress = true;
            }
            if (cfd >= 0) ::close(cfd);
            offset_ = 0;
            ::lseek(fd_, 0, SEEK_SET);
            on_switch(current_name_, current_id_, "truncated (copytruncate)");
            continue;
        }
        // The current file is no longer the live one: rotated (renamed) or deleted. It is
        // drained; move to the next newer file, if it exists yet.
        std::string next = path_;
        std::string why = "replaced";
        if (const auto now = find_by_id(current_id_)) {
            const auto names = siblings();
            const auto at = std::find(names.begin(), names.end(), *now);
            if (at != names.begin() && at != names.end()) {
                next = *std::prev(at);
                why = "rotated";
            }
        }
        if (!live && next == path_) {
            if (!waiting_reported_) on_switch(path_, FileId{}, "is missing; waiting for it");
            waiting_reported_ = true;
            return progress;
        }
        std::string error;
        if (!open_file(next, 0, error)) {
            if (!waiting_reported_) on_switch(next, FileId{}, error);
            waiting_reported_ = true;
            return progress;
        }
        waiting_reported_ = false;
        on_switch(current_name_, current_id_, why);
    }
    return progress;
}

}  // namespace scanwatch::agent
