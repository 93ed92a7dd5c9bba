#include "agent/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "parsers/hex.h"

namespace scanwatch::agent {
namespace {

constexpr int kVersion = 1;

}  // namespace

bool write_state(const std::string& path, const TailState& s, std::string& error) {
    nlohmann::json j;
    j["version"] = kVersion;
    j["file"] = {{"dev", s.position.file.dev}, {"ino", s.position.file.ino}, {"offset", s.position.offset}};
    j["skip"] = nlohmann::json::array();
    for (const auto& key : s.skip) j["skip"].push_back(to_hex(key));
    j["processes"] = nlohmann::json::array();
    for (const auto& p : s.processes) {
        j["processes"].push_back({to_hex(p.host), p.pid, p.entity_id, to_hex(p.executable)});
    }
    j["rules"] = nlohmann::json::object();
    for (const auto& [fingerprint, state] : s.rules) j["rules"][fingerprint] = state;
    j["outputs"] = nlohmann::json::object();
    for (const auto& [file, size] : s.outputs) j["outputs"][to_hex(file)] = size;
    const std::string text = j.dump();

    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
        return false;
    }
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
            ::close(fd);
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        error = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
        return false;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        error = fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
        return false;
    }
    return true;
}

std::optional<TailState> read_state(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return std::nullopt;
        throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    }
    std::stringstream text;
    text << in.rdbuf();
    try {
        const auto j = nlohmann::json::parse(text.str());
        if (j.at("version").get<int>() != kVersion) {
            throw std::runtime_error(fmt::format("version {} is not {}", j.at("version").dump(), kVersion));
        }
        TailState s;
        const auto& file = j.at("file");
        s.position.file = {file.at("dev").get<std::uint64_t>(), file.at("ino").get<std::uint64_t>()};
        s.position.offset = file.at("offset").get<std::uint64_t>();
        for (const auto& key : j.at("skip")) s.skip.push_back(from_hex(key.get<std::string>()));
        for (const auto& p : j.at("processes")) {
            s.processes.push_back({from_hex(p.at(0).get<std::string>()), p.at(1).get<std::int64_t>(),
                                   p.at(2).get<std::string>(), from_hex(p.at(3).get<std::string>())});
        }
        for (const auto& [fingerprint, state] : j.at("rules").items()) s.rules[fingerprint] = state;
        for (const auto& [file_hex, size] : j.at("outputs").items()) {
            s.outputs[from_hex(file_hex)] = size.get<std::uint64_t>();
        }
        return s;
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{} is not a usable state file: {}", path, e.what()));
    }
}

}  // namespace scanwatch::agent
