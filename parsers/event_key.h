#pragma once
// The identity of an audit event as text, the same whether it is read off a record line or off a
// complete event in auparse: "NODE sec.milli:serial" (NODE empty without node=).

#include <string>
#include <string_view>

#include <auparse.h>

namespace scanwatch::parsers {

/// The key of the event a record line belongs to (the line as the RecordFilter passes it on:
/// optional `node=X `, then `type=T msg=audit(sec.milli:serial): ...`). Empty if it has none.
std::string record_event_key(std::string_view record);

/// The key of the complete event `au` is positioned on.
std::string event_key(auparse_state_t* au);

}  // namespace scanwatch::parsers
