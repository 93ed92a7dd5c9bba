#pragma once
// Follows a log file the way auditd writes it: reads what is there, then what is appended;
// across rename rotation (audit.log -> audit.log.1 and a new audit.log), copytruncate, deletion
// and re-creation, and a folder that is unreadable for a while. Never reads a line twice.
// Pure file logic: no clock, no event loop; the caller polls.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scanwatch::agent {

/// A file's identity: what survives a rename.
struct FileId {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
    bool operator!=(const FileId& o) const { return !(*this == o); }
};

/// Where reading stands: which file (by identity) and how far into it.
struct TailPosition {
    FileId file;
    std::uint64_t offset = 0;
};

/// Follows `path`, including its rotated siblings `path.1`, `path.2`, ...
class TailReader {
public:
    /// Told when reading moves to another file (name and identity), and why.
    using SwitchObserver = std::function<void(const std::string& name, FileId id, std::string_view why)>;
    /// Receives data read from the current file: bytes and the offset they start at.
    using DataSink = std::function<void(std::string_view data, std::uint64_t offset)>;

    explicit TailReader(std::string path, std::size_t chunk = 256 * 1024);
    ~TailReader();
    TailReader(const TailReader&) = delete;
    TailReader& operator=(const TailReader&) = delete;

    /// Starts at `saved` when given: the file with that identity is looked for among `path` and
    /// its rotated siblings, so a rotation while we were down is followed; if it is gone, reading
    /// starts at the oldest file that is newer (the gap is reported through `why`). Without
    /// `saved`, starts at the beginning of `path`, or at its end with `from_end`. False, with the
    /// reason in `error`, when `path` cannot be opened (the caller may retry: poll() will).
    bool start(const std::optional<TailPosition>& saved, bool from_end, std::string& error);

    /// Reads everything available and follows rotation; returns whether any data came.
    bool poll(const DataSink& sink, const SwitchObserver& on_switch);

    /// The current position (valid after start() succeeded).
    TailPosition position() const { return {current_id_, offset_}; }
    /// The name the current file had when it was opened.
    const std::string& current_name() const { return current_name_; }
    /// Bytes known to be lost: a file truncated before we read its end without a copy to read.
    std::uint64_t lost_bytes() const { return lost_bytes_; }

private:
    bool open_file(const std::string& name, std::uint64_t offset, std::string& error);
    bool drain(const DataSink& sink);
    /// The sibling names, newest first: path, path.1, path.2, ...
    std::vector<std::string> siblings() const;
    std::optional<std::string> find_by_id(FileId id) const;

    std::string path_;
    std::vector<char> buffer_;
    int fd_ = -1;
    FileId current_id_;
    std::string current_name_;
    std::uint64_t offset_ = 0;
    std::uint64_t lost_bytes_ = 0;
    bool waiting_reported_ = false;
};

/// The identity of an open file, or of a path (nullopt if it cannot be stat'ed).
std::optional<FileId> file_id_of(int fd);
std::optional<FileId> file_id_of(const std::string& path);

}  // namespace scanwatch::agent
