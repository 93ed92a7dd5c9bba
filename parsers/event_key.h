#pragma once
// The identity of an audit event as text, the same whether it is read off a record line or off a
// complete event in auparse: "NODE sec.milli:serial" (NODE empty without node=).

#include <string>
#include <string_view>

#include <auparse.h>

namespace scanwatch::parsers {

/// The `SEC.MS:SERIAL` inside a record's `msg=audit(...)`, or empty unless it is written as the
/// kernel writes it ("%llu.%03lu:%u": no leading zeros, exactly 3 digits of milliseconds; seconds
/// at most 12 digits, serial at most 19, so both fit auparse's numbers). libauparse reads `1.5:7`
/// and `1.005:7` as one event, so only the canonical form gives every record of it one key.
std::string_view audit_stamp(std::string_view record);

/// The key of the event a record line belongs to (the line as the RecordFilter passes it on:
/// optional `node=X `, then `type=T msg=audit(sec.milli:serial): ...`). Empty if it has none
/// or its stamp is not canonical (audit_stamp).
std::string record_event_key(std::string_view record);

/// The key of the complete event `au` is positioned on.
std::string event_key(auparse_state_t* au);

}  // namespace scanwatch::parsers
