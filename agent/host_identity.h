#pragma once
// This machine's identity for events whose records carry no node= name.

#include <string>

namespace scanwatch::agent {

/// /etc/machine-id, else /var/lib/dbus/machine-id (trimmed), or empty if neither is readable.
std::string local_machine_id();
/// The hostname, or empty.
std::string local_hostname();

}  // namespace scanwatch::agent
