#include "agent/tool_inodes.h"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "rules/event_fields.h"

namespace scanwatch::agent {

const std::vector<std::string>& default_tool_folders() {
    static const std::vector<std::string> folders = {"/usr/local/sbin", "/usr/local/bin",
                                                     "/usr/sbin", "/usr/bin", "/sbin", "/bin"};
    return folders;
}

std::vector<std::string> rule_tool_names(
    const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules) {
    const int name_field = rules::FieldCatalog::known_id("process.name");
    std::vector<std::string> names;
    for (const auto& rule : rules) {
        for (auto& name : rule->query.required_values(name_field)) {
            if (std::find(names.begin(), names.end(), name) == names.end()) {
                names.push_back(std::move(name));
            }
        }
    }
    return names;
}

parsers::ToolInodes find_tool_inodes(const std::vector<std::string>& names,
                                     const std::vector<std::string>& folders) {
    parsers::ToolInodes tools;
    for (const auto& name : names) {
        if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
            continue;
        }
        for (const auto& folder : folders) {
            const std::string path = folder + "/" + name;
            struct stat st {};
            if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            // A symlink to a multi-call binary (Alpine's /bin/ping -> busybox).
            char resolved[PATH_MAX];
            if (::realpath(path.c_str(), resolved) != nullptr) {
                const std::string_view base = basename_of(resolved);
                if (base == "busybox" || base == "toybox") continue;
            }
            tools.emplace(parsers::FileIdentity{static_cast<std::uint64_t>(st.st_dev),
                                                static_cast<std::uint64_t>(st.st_ino)},
                          name);
        }
    }
    return tools;
}

}  // namespace scanwatch::agent
