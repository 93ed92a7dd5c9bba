#!/usr/bin/env python3
"""`--events` output of every sample, validated against the ECS field types: keyword fields are
strings (arrays of strings where ECS allows arrays), long fields are integers, date fields are
RFC 3339 timestamps; no field outside the documented set appears.
Usage: ecs_types_test.py SCANWATCH_BINARY SOURCE_DIR"""
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

BIN, SRC = sys.argv[1], sys.argv[2]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# ECS types (ECS 8.x field reference; user.audit.* and auditd.* are Auditbeat's custom fields,
# typed keyword there too). A trailing [] means an array of that type.
TYPES = {
    "@timestamp": "date",
    "event.kind": "keyword", "event.category": "keyword[]", "event.type": "keyword[]",
    "event.action": "keyword", "event.outcome": "keyword", "event.module": "keyword",
    "event.sequence": "long",
    "host.id": "keyword", "host.name": "keyword", "host.os.type": "keyword",
    "process.pid": "long", "process.entity_id": "keyword", "process.name": "keyword",
    "process.executable": "keyword", "process.args": "keyword[]", "process.args_count": "long",
    "process.command_line": "wildcard", "process.title": "keyword", "process.working_directory": "keyword",
    "process.parent.pid": "long", "process.parent.entity_id": "keyword", "process.parent.executable": "keyword",
    "process.parent.name": "keyword", "process.parent.args": "keyword[]",
    "process.parent.args_count": "long", "process.parent.command_line": "wildcard",
    "process.parent.parent.pid": "long", "process.parent.parent.entity_id": "keyword",
    "process.parent.parent.executable": "keyword",
    "user.id": "keyword", "user.name": "keyword",
    "user.effective.id": "keyword", "user.effective.name": "keyword",
    "user.effective.group.id": "keyword", "user.effective.group.name": "keyword",
    "user.audit.id": "keyword", "user.audit.name": "keyword",
    "group.id": "keyword", "group.name": "keyword",
    "auditd.syscall": "keyword", "auditd.arch": "keyword", "auditd.session": "keyword",
    "tags": "keyword[]",
    # network events (docs/events.md, "Network events")
    "destination.ip": "ip", "destination.port": "long",
    "network.direction": "keyword", "network.type": "keyword", "network.transport": "keyword",
    "auditd.data.exit": "long", "auditd.data.socket.family": "keyword",
    "auditd.data.socket.type": "keyword",
}
REQUIRED = ["@timestamp", "event.kind", "event.category", "event.type", "event.action", "event.outcome",
            "event.module", "event.sequence", "host.id", "host.os.type"]
REQUIRED_EXEC = ["process.args", "process.args_count"]
REQUIRED_CONNECT = ["destination.ip", "destination.port", "network.direction", "network.type"]


def flatten(obj, prefix=""):
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict):
            yield from flatten(value, name + ".")
        else:
            yield name, value


def valid(kind, value):
    if kind.endswith("[]"):
        return isinstance(value, list) and all(valid(kind[:-2], v) for v in value)
    if kind in ("keyword", "wildcard"):
        return isinstance(value, str)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
    if kind == "ip":
        try:
            ipaddress.ip_address(value)
            return True
        except (TypeError, ValueError):
            return False
    if kind == "date":
        return isinstance(value, str) and DATE.match(value) is not None
    return False


failures = []
checked = 0
with tempfile.TemporaryDirectory() as tmp:
    for name in sorted(os.listdir(os.path.join(SRC, "samples"))):
        if not name.endswith(".log"):
            continue
        out = os.path.join(tmp, name + ".events")
        subprocess.run([BIN, "replay", "--events", out, "--output", "file:" + os.devnull,
                        os.path.join(SRC, "samples", name)], check=True)
        with open(out) as f:
            for n, line in enumerate(f, 1):
                event = json.loads(line)
                fields = dict(flatten(event))
                required = REQUIRED + (REQUIRED_EXEC if event["event"]["category"] == ["process"] else [])
                if event["event"]["action"] == "connected-to":
                    required += REQUIRED_CONNECT
                for field in required:
                    if field not in fields:
                        failures.append(f"{name}:{n}: {field} missing")
                for field, value in fields.items():
                    kind = TYPES.get(field)
                    if kind is None:
                        failures.append(f"{name}:{n}: {field} is not a documented field")
                    elif not valid(kind, value):
                        failures.append(f"{name}:{n}: {field} = {value!r} is not {kind}")
                checked += 1

for f in failures[:20]:
    print("FAIL", f)
print(f"{checked} events checked, {len(failures)} type errors")
sys.exit(1 if failures or checked < 1000 else 0)
