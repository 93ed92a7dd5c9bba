#include "agent/host_identity.h"

#include <unistd.h>

#include <fstream>

namespace scanwatch::agent {

std::string local_machine_id() {
    // systemd's file, then D-Bus's older copy (hosts and containers without systemd).
    for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
        std::ifstream in(path);
        std::string id;
        std::getline(in, id);
        while (!id.empty() && (id.back() == ' ' || id.back() == '\r')) id.pop_back();
        if (!id.empty()) return id;
    }
    return {};
}

std::string local_hostname() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return {};
    return name;
}

}  // namespace scanwatch::agent
