#include "agent/host_identity.h"

#include <unistd.h>

#include <fstream>

namespace scanwatch::agent {

std::string local_machine_id() {
    std::ifstream in("/etc/machine-id");
    std::string id;
    std::getline(in, id);
    while (!id.empty() && (id.back() == ' ' || id.back() == '\r')) id.pop_back();
    return id;
}

std::string local_hostname() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return {};
    return name;
}

}  // namespace scanwatch::agent
