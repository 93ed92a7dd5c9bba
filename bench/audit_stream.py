"""Exec events of a captured log, replayed as auditd's dispatcher sends them to a plugin: each
event's records followed by its EOE record, copies shifted in time and serial so that every copy
is a new set of events. Shared by bench/latency.py and tests/integration/syslog_test.py."""
import re

STAMP = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")


def events_of(sample):
    """The sample's exec events as lists of record lines, in order (records grouped by id)."""
    events, order = {}, []
    with open(sample, "rb") as f:
        for line in f:
            m = STAMP.search(line)
            if not m or b"type=DAEMON_" in line:
                continue
            key = m.group(0)
            if key not in events:
                events[key] = []
                order.append(key)
            events[key].append(line)
    return [events[k] for k in order if any(b"type=EXECVE" in l for l in events[k])]


def shifted(events, copy, span=600):
    """Copy `copy` of the events, times shifted by copy*span s and serials by copy*10^7, each
    followed by its EOE record: a list of (event id "sec.ms:serial", the event's bytes)."""
    out = []
    for records in events:
        ev = []
        for line in records + [b"type=EOE " + STAMP.search(records[0]).group(0) + b": \n"]:
            ev.append(STAMP.sub(lambda m: b"msg=audit(%d.%s:%d)" % (
                int(m.group(1)) + copy * span, m.group(2), int(m.group(3)) + copy * 10_000_000), line))
        m = STAMP.search(ev[0])
        out.append((b"%s.%s:%s" % (m.group(1), m.group(2), m.group(3)), b"".join(ev)))
    return out


def shifted_stream(events, copy, span=600):
    """The bytes of shifted(events, copy, span), as one write."""
    return b"".join(data for _, data in shifted(events, copy, span))
