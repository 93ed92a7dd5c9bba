#include "agent/sources/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "agent/outputs/safe_open.h"
#include "parsers/ecs/hex.h"

namespace scanwatch::agent {
namespace {

// 2 added the identity of each output file; a version 1 file is read without its outputs (they
// are then never cut back). 3 added what a process's exec was (name, args, argc: the
// process.parent.* fields); a version 1 or 2 entry knows only the executable.
constexpr int kVersion = 3;

using Json = nlohmann::json;

[[noreturn]] void bad(std::string_view what) {
    throw std::runtime_error(std::string(what));
}

// nlohmann converts a float or a negative number to an integer type without complaint (a float
// out of range is undefined behaviour): every number is checked for its kind before use.
std::uint64_t unsigned_at(const Json& j, const char* key, std::string_view where) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned())
        bad(fmt::format("{}.{} is not a non-negative integer", where, key));
    return it->get<std::uint64_t>();
}

const Json& member(const Json& j, const char* key, Json::value_t type, std::string_view where) {
    const auto it = j.find(key);
    if (it == j.end() || it->type() != type)
        bad(fmt::format("{}.{} is missing or of the wrong type", where, key));
    return *it;
}

std::string hex_string(const Json& j, std::string_view where, bool allow_nul) {
    if (!j.is_string()) bad(fmt::format("{} is not a string", where));
    std::string bytes;
    try {
        bytes = from_hex(j.get_ref<const std::string&>());
    } catch (const std::invalid_argument&) {
        bad(fmt::format("{} is not hex", where));
    }
    if (!allow_nul && bytes.find('\0') != std::string::npos)
        bad(fmt::format("{} holds a NUL byte", where));
    return bytes;
}

// nlohmann's copy, dump and comparison recurse: a deeply nested file would exhaust the stack.
// What we write nests 5 deep.
constexpr int kMaxDepth = 32;

bool nests_too_deep(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

// The engines read their own part; none of them saves a float, so none is accepted anywhere.
void reject_floats(const Json& j) {
    if (j.is_number_float()) bad("a number is not an integer");
    if (j.is_structured()) {
        for (const auto& v : j) reject_floats(v);
    }
}

void read_processes(const Json& list, TailState& s) {
    for (const auto& p : list) {
        // 7 items when the instance's exec was seen: [..., executable, name, args, argc].
        if (!p.is_array() || (p.size() != 4 && p.size() != 7))
            bad("a process entry is not [host, pid, entity id, executable(, name, args, argc)]");
        parsers::ProcessTable::Saved saved;
        saved.host = hex_string(p[0], "a process host id", false);
        if (!p[1].is_number_unsigned() ||
            p[1].get<std::uint64_t>() >
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            bad("a process pid is not a non-negative integer");
        }
        saved.pid = p[1].get<std::int64_t>();
        if (!p[2].is_string()) bad("a process entity id is not a string");
        saved.entity_id = p[2].get<std::string>();
        saved.executable = hex_string(p[3], "a process executable", true);
        // A version 1 or 2 entry knows the exe but not the rest: its name, args and argc stay
        // unknown rather than empty.
        saved.exec_seen = p.size() == 7;
        if (p.size() == 7) {
            saved.name = hex_string(p[4], "a process name", true);
            saved.args = hex_string(p[5], "a process's args", true);
            if (!p[6].is_number_unsigned()) bad("a process argc is not a non-negative integer");
            saved.args_count = p[6].get<std::uint64_t>();
        }
        s.checkpoint.pipeline.processes.push_back(std::move(saved));
    }
}

void read_outputs(const Json& list, TailState& s) {
    for (const auto& o : list) {
        if (!o.is_object()) bad("an output entry is not an object");
        OutputMark mark;
        mark.path =
            hex_string(member(o, "path", Json::value_t::string, "output"), "an output path", false);
        if (mark.path.empty()) bad("an output path is empty");
        mark.id = {unsigned_at(o, "dev", "output"), unsigned_at(o, "ino", "output")};
        mark.size = unsigned_at(o, "size", "output");
        if (mark.size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
            bad("an output size is too large");
        s.outputs.push_back(std::move(mark));
    }
}

}  // namespace

bool write_state(const std::string& path, const TailState& s, std::string& error) {
    Json j;
    j["version"] = kVersion;
    j["file"] = {{"dev", s.checkpoint.position.file.dev},
                 {"ino", s.checkpoint.position.file.ino},
                 {"offset", s.checkpoint.position.offset}};
    j["skip"] = Json::array();
    for (const auto& key : s.checkpoint.skip) j["skip"].push_back(to_hex(key));
    j["processes"] = Json::array();
    for (const auto& p : s.checkpoint.pipeline.processes) {
        if (p.exec_seen) {  // else 4 items, as versions 1 and 2 wrote every entry
            j["processes"].push_back({to_hex(p.host), p.pid, p.entity_id, to_hex(p.executable),
                                      to_hex(p.name), to_hex(p.args), p.args_count});
        } else {
            j["processes"].push_back({to_hex(p.host), p.pid, p.entity_id, to_hex(p.executable)});
        }
    }
    j["rules"] = Json::object();
    for (const auto& [fingerprint, state] : s.checkpoint.pipeline.rules)
        j["rules"][fingerprint] = state;
    j["outputs"] = Json::array();
    for (const auto& o : s.outputs) {
        j["outputs"].push_back(
            {{"path", to_hex(o.path)}, {"dev", o.id.dev}, {"ino", o.id.ino}, {"size", o.size}});
    }
    const std::string text = j.dump();

    // The folder may have changed since start; a planted .tmp (a symlink to a file of root's)
    // is removed, never followed.
    const std::string tmp = path + ".tmp";
    FolderTrust trust = FolderTrust::private_;
    if (!check_folder(path, trust, error)) return false;
    const int fd = create_exclusive(tmp, 0600, error);
    if (fd < 0) return false;
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

TailState parse_state(std::string_view text) {
    if (nests_too_deep(text)) bad(fmt::format("it nests deeper than {} levels", kMaxDepth));
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) bad("it is not JSON");
    if (!j.is_object()) bad("it is not a JSON object");
    reject_floats(j);
    const std::uint64_t version = unsigned_at(j, "version", "state");
    if (version == 0 || version > static_cast<std::uint64_t>(kVersion)) {
        bad(fmt::format("version {} is not {}", version, kVersion));
    }
    TailState s;
    const Json& file = member(j, "file", Json::value_t::object, "state");
    s.checkpoint.position.file = {unsigned_at(file, "dev", "file"),
                                  unsigned_at(file, "ino", "file")};
    s.checkpoint.position.offset = unsigned_at(file, "offset", "file");
    const Json& skip = member(j, "skip", Json::value_t::array, "state");
    if (skip.size() > kMaxSkipKeys) bad(fmt::format("skip holds more than {} keys", kMaxSkipKeys));
    for (const auto& key : skip) s.checkpoint.skip.push_back(hex_string(key, "a skip key", false));
    read_processes(member(j, "processes", Json::value_t::array, "state"), s);
    for (const auto& [fingerprint, state] :
         member(j, "rules", Json::value_t::object, "state").items()) {
        s.checkpoint.pipeline.rules[fingerprint] = state;
    }
    if (version >= 2) {
        read_outputs(member(j, "outputs", Json::value_t::array, "state"), s);
    }
    return s;
}

std::optional<TailState> read_state(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return std::nullopt;
        throw std::runtime_error(
            fmt::format("cannot read state file {}: {}", path, std::strerror(errno)));
    }
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad())
        throw std::runtime_error(
            fmt::format("cannot read state file {}: {}", path, std::strerror(errno)));
    try {
        return parse_state(text.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format(
            "{} is not a usable state file: {} (move it away to start afresh; docs/tail.md)", path,
            e.what()));
    }
}

std::string check_state_path(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return fmt::format("--state {}: is a directory", path);
    } else {
        if (errno != ENOENT) return fmt::format("--state {}: {}", path, std::strerror(errno));
        std::string dir = std::filesystem::path(path).parent_path().string();
        if (dir.empty()) dir = ".";
        if (::stat(dir.c_str(), &st) != 0)
            return fmt::format("--state {}: folder {}: {}", path, dir, std::strerror(errno));
        if (!S_ISDIR(st.st_mode)) return fmt::format("--state {}: {} is not a folder", path, dir);
    }
    // Its .tmp is created there as root: no folder where another user could plant a symlink.
    std::string error;
    FolderTrust trust = FolderTrust::private_;
    if (!check_folder(path, trust, error)) return "--state " + error;
    return {};
}

}  // namespace scanwatch::agent
