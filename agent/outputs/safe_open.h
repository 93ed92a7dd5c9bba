#pragma once
// Opening the files a root agent writes (alert and event outputs, tail's state) without letting
// another user redirect them: a symlink or hard link planted in a folder that user can write
// would make root append to, or truncate, a file of its choosing (docs/operations.md,
// "Files scanwatch writes").

#include <sys/types.h>

#include <string>

namespace scanwatch::agent {

/// Who may write the folder holding `path`.
enum class FolderTrust {
    private_,  ///< only us or root: nothing can be planted there
    shared,    ///< others may write, but it is sticky and owned by us or root (like /tmp)
};

/// The user scanwatch switches to (`--user`) is trusted like root and us: its folders
/// (/var/log/scanwatch, owned by _scanwatch) may hold outputs and state. Call before opening.
void trust_user(uid_t uid, gid_t gid);

/// Checks the folder holding `path`: refused (the reason, naming folder and mode, in `error`)
/// when a user other than us and root owns it, or may write it and it is not sticky.
bool check_folder(const std::string& path, FolderTrust& trust, std::string& error);

/// Opens `path` to append (O_APPEND, close-on-exec) for an output. A missing file is created
/// new (O_CREAT|O_EXCL|O_NOFOLLOW), mode 0640 before the umask. In a shared folder an existing
/// file must be a regular file of ours or root's with one link, never a symlink. -1 with
/// `error` ("cannot open PATH: why") when refused.
int open_for_append(const std::string& path, std::string& error);

/// Creates `path` new for writing (a temporary file to rename over another): a leftover at
/// `path` (a file or a planted symlink) is removed first, then O_CREAT|O_EXCL|O_NOFOLLOW with
/// `mode`. -1 with `error` when it cannot.
int create_exclusive(const std::string& path, mode_t mode, std::string& error);

}  // namespace scanwatch::agent
