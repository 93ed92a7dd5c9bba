#include "agent/sources/replay.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

namespace fs = std::filesystem;

// "audit.log.3" -> ("audit.log", 3); "audit.log" -> ("audit.log", 0).
std::pair<std::string, unsigned> rotation_key(const std::string& name) {
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && dot + 1 < name.size()) {
        unsigned n = 0;
        const char* first = name.data() + dot + 1;
        const char* last = name.data() + name.size();
        const auto res = std::from_chars(first, last, n);
        if (res.ec == std::errc() && res.ptr == last) return {name.substr(0, dot), n};
    }
    return {name, 0};
}

std::vector<std::string> folder_files(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name[0] == '.' || !entry.is_regular_file()) continue;
        files.push_back(entry.path());
    }
    if (ec) throw std::runtime_error(fmt::format("cannot read {}: {}", dir.string(), ec.message()));
    if (files.empty()) throw std::runtime_error(fmt::format("{} holds no log files", dir.string()));
    // Per base name, highest rotation number (oldest) first, the live file last.
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
        const auto ka = rotation_key(a.filename().string());
        const auto kb = rotation_key(b.filename().string());
        if (ka.first != kb.first) return ka.first < kb.first;
        return ka.second > kb.second;
    });
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.string());
    return out;
}

}  // namespace

std::vector<std::string> expand_replay_paths(const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (const auto& path : paths) {
        if (path == "-") {
            out.push_back(path);
            continue;
        }
        std::error_code ec;
        const auto status = fs::status(path, ec);
        if (ec || !fs::exists(status)) {
            throw std::runtime_error(fmt::format("cannot open {}: {}", path,
                                                 ec ? ec.message() : "No such file or directory"));
        }
        if (fs::is_directory(status)) {
            for (auto& f : folder_files(path)) out.push_back(std::move(f));
        } else {
            out.push_back(path);
        }
    }
    return out;
}

std::string check_replay_files(const std::vector<std::string>& files) {
    for (const auto& path : files) {
        if (path == "-") continue;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fmt::format("cannot open {}: {}", path, std::strerror(errno));
        ::close(fd);
    }
    return {};
}

bool replay(const std::vector<std::string>& files, Pipeline& pipeline,
            const std::function<void(const std::string& message)>& on_error,
            ProgressLine* progress) {
    std::vector<char> buffer(256 * 1024);
    bool all_read = true;
    for (const auto& path : files) {
        const bool is_stdin = path == "-";
        const int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            on_error(fmt::format("cannot open {}: {}; skipped", path, std::strerror(errno)));
            all_read = false;
            continue;
        }
        pipeline.begin_source(is_stdin ? "<stdin>" : path);
        if (progress != nullptr) progress->next_file();
        for (;;) {
            const ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n > 0) {
                pipeline.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
                if (progress != nullptr) progress->read(static_cast<std::uint64_t>(n));
                continue;
            }
            if (n == 0) break;
            if (errno == EINTR) continue;
            on_error(fmt::format("cannot read {}: {}; the rest of it is skipped",
                                 is_stdin ? "stdin" : path, std::strerror(errno)));
            all_read = false;
            break;
        }
        if (!is_stdin) ::close(fd);
    }
    pipeline.finish();
    return all_read;
}

}  // namespace scanwatch::agent

namespace scanwatch::agent {

std::uint64_t replay_bytes(const std::vector<std::string>& files) {
    std::uint64_t total = 0;
    for (const auto& path : files) {
        std::error_code ec;
        if (path == "-") continue;
        const auto size = fs::file_size(path, ec);
        if (!ec) total += size;
    }
    return total;
}

}  // namespace scanwatch::agent
