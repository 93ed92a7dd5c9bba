#!/usr/bin/env python3
"""Differential check of scanwatch's query matching against Elastic's own semantics
(docs/rules.md, "Elastic's rules"). Not run in CI: it needs a detection-rules checkout.

    scripts/elastic-differential.py [--exec-action any] SCANWATCH DETECTION_RULES LOG_OR_FOLDER...

For the Linux rules of DETECTION_RULES (a checkout, or a bare repository read at HEAD; the
selection of scripts/elastic-rules-report.sh) whose query scanwatch loads, every (rule, event)
pair over scanwatch's own `--events` output of the given audit logs is judged twice:

- scanwatch: the rule's query copied into a query (KQL) or eql rule with no cap on alerts, run by
  `scanwatch --profile elastic --exec-action executed replay --rules ...` (Elastic's exact
  semantics: comm names, no exec alias); a pair matches when the event has an alert of that rule;
- Elastic: KQL by detection-rules' own evaluator (lib/kql of the checkout: `kql.get_evaluator`),
  single-event EQL by the evaluator of Elasticsearch's EQL semantics in this script.

With `--exec-action any`, scanwatch runs with its exec alias (docs/rules.md, "event.action") and
Elastic's side sees each exec event's event.action as all the names the alias equates (executed,
exec, exec_event, start, ProcessRollup2, process_started; a field with several values passes a
test when one does, and a negated test when none does): the alias's meaning for every literal
test, which is all the rules have (a wildcard of another agent's name, `Process*`, would differ).

It prints, per language, pairs judged, agreements, and each disagreement (rule, event), and exits
1 when there is one. Needs python3-lark, and the `eql` package that lib/kql imports (pip install
eql==1.0.1, or a checkout of elastic/eql on PYTHONPATH).

The EQL evaluator is written for this check, independently of scanwatch's C++, for the
single-event subset Elastic's Linux rules use (sequences are not judged). The `eql` package's own
parser cannot serve: it reads EQL's original case-insensitive dialect and folds `like` and `like~`,
`:` and `==`, `in` and `in~` into the same nodes. Semantics, from Elasticsearch's EQL reference,
as a search over one document: `==`/`in`/`like`/`regex`/`startsWith`... compare case-sensitively
and their `~` forms and `:` ignore case (here: every letter, as Python's casefold); a field with
several values passes a test when one value does; a missing field fails every test (`!=` and `not`
negate the test, so they pass); `*` and `?` are the wildcards of `:` and `like`; `regex` matches
the whole value (Python's `re` stands in for Lucene's dialect, with `.` matching a line break);
numbers compare as numbers; `length()` counts characters; `cidrMatch` uses Python's ipaddress.
"""
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict

# ------------------------------------------------------------------ the rules


def selected_rules(source, work):
    """The Linux rule files of a checkout or bare repository (as elastic-rules-report.sh)."""
    if os.path.isdir(os.path.join(source, "rules")):
        checkout = source
    else:
        checkout = os.path.join(work, "checkout")
        os.makedirs(checkout)
        archive = subprocess.run(["git", "-C", source, "archive", "HEAD", "rules/linux",
                                  "rules/cross-platform", "rules_building_block", "lib/kql"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", checkout], input=archive, check=True)
    out = []
    for folder, need_linux in (("rules/linux", False), ("rules/cross-platform", None),
                               ("rules_building_block", True)):
        path = os.path.join(checkout, folder)
        for name in sorted(os.listdir(path)):
            if not name.endswith(".toml"):
                continue
            with open(os.path.join(path, name), "rb") as f:
                rule = tomllib.load(f).get("rule", {})
            oses = [t for t in rule.get("tags", []) if t.startswith("OS: ")]
            if need_linux is True and "OS: Linux" not in oses:
                continue
            if need_linux is None and oses and "OS: Linux" not in oses:
                continue
            out.append((f"{folder}/{name}", rule))
    return checkout, out


def write_query_rules(rules, folder):
    """Each rule's query as a query or eql rule without a cap on alerts; returns {rule_id: (language, query)}."""
    os.makedirs(folder)
    kept = {}
    for i, (path, rule) in enumerate(rules):
        language = rule.get("language", "kuery")
        if language not in ("kuery", "eql") or "query" not in rule or rule.get("type") == "esql":
            continue
        if rule.get("enabled") is False:  # neither Kibana nor scanwatch runs it
            continue
        rule_type = "eql" if language == "eql" else "query"
        text = (f"[rule]\nrule_id = {json.dumps(rule['rule_id'])}\nname = {json.dumps(path)}\n"
                f"type = \"{rule_type}\"\nlanguage = \"{language}\"\nmax_signals = 100000000\n"
                f"query = {json.dumps(rule['query'])}\n")
        with open(os.path.join(folder, f"{i:04d}.toml"), "w") as f:
            f.write(text)
        kept[rule["rule_id"]] = (language, rule["query"], path)
    return kept


# ------------------------------------------------------- EQL, Elasticsearch's semantics

TOKEN = re.compile(r'''
    (?P<space>\s+|//[^\n]*|/\*[\s\S]*?\*/)
  | (?P<raw>"""[\s\S]*?""")
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<op>==|!=|<=|>=|<|>|:|\(|\)|,|~)
  | (?P<name>\??[A-Za-z_@][\w.@-]*)
''', re.X)

ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "\\": "\\", "'": "'"}


def unquote(text):
    if text.startswith('"""'):
        return text[3:-3]
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\":
            e = body[i + 1]
            if e == "u":
                end = body.index("}", i)
                out.append(chr(int(body[i + 3:end], 16)))
                i = end + 1
                continue
            out.append(ESCAPES[e])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class Eql:
    """Parses `CATEGORY where CONDITION` into nested tuples; match(event) evaluates it."""

    def __init__(self, text):
        self.tokens = []
        pos = 0
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m:
                raise ValueError(f"cannot read EQL at {text[pos:pos + 20]!r}")
            pos = m.end()
            if m.lastgroup != "space":
                self.tokens.append((m.lastgroup, m.group()))
        self.pos = 0
        self.category = self.take("name")
        if self.take("name").lower() != "where":
            raise ValueError("expected where")
        self.root = self.parse_or()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos]}")

    def peek(self, k=0):
        i = self.pos + k
        return self.tokens[i] if i < len(self.tokens) else ("end", "")

    def take(self, kind=None, value=None):
        tok = self.peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise ValueError(f"expected {value or kind}, found {tok}")
        self.pos += 1
        return tok[1]

    def word(self, w, k=0):
        tok = self.peek(k)
        return tok[0] == "name" and tok[1] == w

    def parse_or(self):
        items = [self.parse_and()]
        while self.word("or"):
            self.pos += 1
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else ("or", items)

    def parse_and(self):
        items = [self.parse_not()]
        while self.word("and"):
            self.pos += 1
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else ("and", items)

    def parse_not(self):
        if self.word("not"):
            self.pos += 1
            return ("not", self.parse_not())
        return self.parse_test()

    def parse_value(self):
        kind, text = self.peek()
        if kind in ("string", "raw"):
            self.pos += 1
            return ("lit", unquote(text))
        if kind == "number":
            self.pos += 1
            return ("lit", float(text))
        if kind == "name" and text in ("true", "false"):
            self.pos += 1
            return ("lit", text == "true")
        if kind == "name" and text == "null":
            self.pos += 1
            return ("null",)
        if kind == "name" and (self.peek(1) == ("op", "(") or
                               (self.peek(1) == ("op", "~") and self.peek(2) == ("op", "("))):
            return self.parse_call()
        if kind == "name":
            self.pos += 1
            return ("field", text.lstrip("?"))
        raise ValueError(f"expected a value, found {text!r}")

    def parse_list(self):
        if self.peek() != ("op", "("):
            return [self.parse_value()]
        self.pos += 1
        items = [self.parse_value()]
        while self.peek() == ("op", ","):
            self.pos += 1
            items.append(self.parse_value())
        self.take("op", ")")
        return items

    def parse_call(self):
        name = self.take("name")
        fold = self.peek() == ("op", "~")
        if fold:
            self.pos += 1
        self.take("op", "(")
        args = [self.parse_value()]
        while self.peek() == ("op", ","):
            self.pos += 1
            args.append(self.parse_value())
        self.take("op", ")")
        return ("call", name.lower(), fold, args)

    def parse_test(self):
        if self.peek() == ("op", "("):
            self.pos += 1
            inner = self.parse_or()
            self.take("op", ")")
            return inner
        left = self.parse_value()
        kind, text = self.peek()
        if kind == "op" and text in ("==", "!=", "<", "<=", ">", ">="):
            self.pos += 1
            right = self.parse_value()
            if right == ("null",):
                test = ("null", left)
                return test if text == "==" else ("not", test)
            test = ("cmp", "==" if text == "!=" else text, left, right)
            return ("not", test) if text == "!=" else test
        if kind == "op" and text == ":":
            self.pos += 1
            return ("like", True, left, self.parse_list())
        negate = False
        if self.word("not"):
            self.pos += 1
            negate = True
        kind, text = self.peek()
        if kind == "name" and text in ("in", "in~", "like", "like~", "regex", "regex~"):
            self.pos += 1
            fold = text.endswith("~")
            if self.peek() == ("op", "~"):
                self.pos += 1
                fold = True
            base = text.rstrip("~")
            test = (base, fold, left, self.parse_list())
            return ("not", test) if negate else test
        if negate:
            raise ValueError("expected in, like or regex after not")
        return ("truth", left)

    # ------------------------------------------------------------- evaluation
    @staticmethod
    def values(node, event):
        if node[0] == "lit":
            return [node[1]]
        if node[0] == "field":
            v = event
            for part in node[1].split("."):
                if isinstance(v, dict) and part in v:
                    v = v[part]
                else:
                    # ECS dotted keys inside objects: try the rest as one key.
                    return []
            if v is None:
                return []
            return v if isinstance(v, list) else [v]
        if node[0] == "call":
            return [Eql.call(node, event)]
        return []

    @staticmethod
    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    @staticmethod
    def number(v):
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return float(v)
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    @staticmethod
    def wildcard(pattern, value, fold):
        if fold:
            pattern, value = pattern.casefold(), value.casefold()
        rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(rx, value, re.S) is not None

    @staticmethod
    def call(node, event):
        _, name, fold, args = node
        if name == "length":
            vals = Eql.values(args[0], event)
            return len(Eql.text(vals[0])) if vals else None
        if name == "cidrmatch":
            nets = [ipaddress.ip_network(Eql.text(a[1]), strict=False) for a in args[1:]]
            for v in Eql.values(args[0], event):
                try:
                    ip = ipaddress.ip_address(Eql.text(v))
                except ValueError:
                    continue
                if any(ip.version == n.version and ip in n for n in nets):
                    return True
            return False
        tests = {
            "startswith": lambda a, b: a.startswith(b),
            "endswith": lambda a, b: a.endswith(b),
            "stringcontains": lambda a, b: b in a,
            "wildcard": lambda a, b: Eql.wildcard(b, a, False),
        }
        if name not in tests:
            raise ValueError(f"function {name} is not in this evaluator")
        fn = tests[name]
        for v in Eql.values(args[0], event):
            for arg in args[1:]:
                for w in Eql.values(arg, event):
                    a, b = Eql.text(v), Eql.text(w)
                    if name == "wildcard":
                        if Eql.wildcard(b, a, fold):
                            return True
                        continue
                    if fold:
                        a, b = a.casefold(), b.casefold()
                    if fn(a, b):
                        return True
        return False

    def match(self, event):
        return self.eval(self.root, event)

    def eval(self, node, event):
        op = node[0]
        if op == "and":
            return all(self.eval(n, event) for n in node[1])
        if op == "or":
            return any(self.eval(n, event) for n in node[1])
        if op == "not":
            return not self.eval(node[1], event)
        if op == "null":
            return not self.values(node[1], event)
        if op == "truth":
            return any(v is True for v in self.values(node[1], event))
        if op == "cmp":
            _, cmp, left, right = node
            for a in self.values(left, event):
                for b in self.values(right, event):
                    if self.compare(cmp, a, b):
                        return True
            return False
        base, fold, left, items = node
        for a in self.values(left, event):
            for item in items:
                for b in self.values(item, event):
                    if base == "in" and self.equal(a, b, fold):
                        return True
                    if base == "like" and self.wildcard(self.text(b), self.text(a), fold):
                        return True
                    if base == "regex" and re.fullmatch(self.text(b), self.text(a),
                                                        re.S | (re.I if fold else 0)):
                        return True
        return False

    def equal(self, a, b, fold):
        if isinstance(b, float) or isinstance(a, (int, float)) and not isinstance(a, bool):
            na, nb = self.number(a), self.number(b)
            if na is not None and nb is not None:
                return na == nb
        ta, tb = self.text(a), self.text(b)
        return ta.casefold() == tb.casefold() if fold else ta == tb

    def compare(self, cmp, a, b):
        if cmp == "==":
            return self.equal(a, b, False)
        if isinstance(b, float) and not isinstance(b, bool):
            na = self.number(a)
            if na is None:
                return False
            a, b = na, b
        else:
            a, b = self.text(a), self.text(b)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[cmp]


# ---------------------------------------------------------------------- main


def event_key(e):
    return (e.get("@timestamp"), e.get("host", {}).get("id"), e.get("event", {}).get("sequence"),
            e.get("event", {}).get("action"), e.get("process", {}).get("pid"))


def logs_of(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                out += [os.path.join(root, f) for f in sorted(files) if f.endswith(".log")]
        else:
            out.append(p)
    return sorted(out)


EXEC_NAMES = ["executed", "exec", "exec_event", "start", "ProcessRollup2", "process_started"]


def as_elastic_sees(event, alias):
    if not alias or event.get("event", {}).get("action") != "executed":
        return event
    copy = dict(event)
    copy["event"] = dict(event["event"], action=EXEC_NAMES)
    return copy


def main():
    args = sys.argv[1:]
    exec_action = "executed"
    if args[:1] == ["--exec-action"]:
        exec_action, args = args[1], args[2:]
    if len(args) < 3 or exec_action not in ("any", "executed"):
        sys.exit(__doc__)
    scanwatch, source, inputs = os.path.abspath(args[0]), args[1], args[2:]
    with tempfile.TemporaryDirectory() as work:
        checkout, rules = selected_rules(source, work)
        sys.path.insert(0, os.path.join(checkout, "lib", "kql"))
        import kql  # detection-rules' own KQL parser and evaluator

        folder = os.path.join(work, "rules")
        kept = write_query_rules(rules, folder)
        summary = subprocess.run([scanwatch, "--profile", "elastic", "--exec-action", exec_action,
                                  "rules", "check", "--summary", folder], capture_output=True, text=True).stdout
        loaded = set()
        for line in summary.splitlines():
            verdict, _, rest = line.partition(" ")
            if verdict in ("can-fire", "cannot-fire"):
                loaded.add(rest.strip().split(":")[0])
        for name in os.listdir(folder):
            if os.path.join(folder, name) not in loaded:
                os.remove(os.path.join(folder, name))
        judges = {}
        skipped = defaultdict(int)
        for rule_id, (language, query, path) in kept.items():
            try:
                if language == "kuery":
                    judges[rule_id] = ("kuery", kql.get_evaluator(kql.parse(query)), path)
                else:
                    judges[rule_id] = ("eql", Eql(query).match, path)
            except Exception as e:  # a rule Elastic's side cannot judge is counted, not judged
                skipped[f"{language}: {type(e).__name__}"] += 1
        loaded_ids = set()
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as f:
                loaded_ids.add(tomllib.load(f)["rule"]["rule_id"])
        judges = {k: v for k, v in judges.items() if k in loaded_ids}
        print(f"rules: {len(rules)} selected, {len(loaded_ids)} queries scanwatch loads, "
              f"{len(judges)} judged ({sum(1 for j in judges.values() if j[0] == 'kuery')} KQL, "
              f"{sum(1 for j in judges.values() if j[0] == 'eql')} EQL); not judged: {dict(skipped)}")

        # Counted per language and event kind: scanwatch hands network events only to rules
        # written for them (docs/architecture.md), where Elastic's search sees every document.
        pairs = defaultdict(int)
        agree = defaultdict(int)
        matched = defaultdict(int)
        by_rule = defaultdict(int)
        disagreements = []
        for log in logs_of(inputs):
            events_file = os.path.join(work, "events.ndjson")
            alerts_file = os.path.join(work, "alerts.ndjson")
            for f in (events_file, alerts_file):
                if os.path.exists(f):
                    os.remove(f)
            subprocess.run([scanwatch, "--profile", "elastic", "--exec-action", exec_action,
                            "--host-id", "h", "--host-name", "h", "replay", "--rules", folder,
                            "--events", events_file, "--output", f"file:{alerts_file}", log],
                           capture_output=True)
            if not os.path.exists(events_file):
                continue
            fired = defaultdict(set)
            if os.path.exists(alerts_file):
                with open(alerts_file) as f:
                    for line in f:
                        a = json.loads(line)
                        fired[a["kibana.alert.rule.rule_id"]].add(event_key(a))
            with open(events_file) as f:
                events = [json.loads(line) for line in f]
            for e in events:
                key = event_key(e)
                kind = "exec" if "process" in e.get("event", {}).get("category", []) else "network"
                e = as_elastic_sees(e, exec_action == "any")
                for rule_id, (language, judge, path) in judges.items():
                    try:
                        want = bool(judge(e))
                    except Exception:
                        skipped[f"{language}: evaluation error"] += 1
                        continue
                    got = key in fired[rule_id]
                    pairs[language, kind] += 1
                    matched[language, kind] += want
                    if want == got:
                        agree[language, kind] += 1
                        continue
                    by_rule[path, kind, want, got] += 1
                    if len(disagreements) < 20:
                        disagreements.append((path, os.path.basename(log), key, want, got))
        print(f"events: {sum(pairs[k] for k in pairs if k[0] == 'kuery') // max(1, sum(1 for j in judges.values() if j[0] == 'kuery'))} "
              f"from {len(logs_of(inputs))} logs")
        for language in ("kuery", "eql"):
            for kind in ("exec", "network"):
                n = pairs[language, kind]
                print(f"{language}, {kind} events: {n} rule x event pairs, {agree[language, kind]} agree, "
                      f"{n - agree[language, kind]} disagree ({matched[language, kind]} matches by Elastic's semantics)")
        for (path, kind, want, got), n in sorted(by_rule.items(), key=lambda x: -x[1]):
            print(f"disagreements: {n} {kind} events, {path}: Elastic {want}, scanwatch {got}")
        for path, log, key, want, got in disagreements:
            print(f"DISAGREE {path} on {log} {key}: Elastic {want}, scanwatch {got}")
        sys.exit(1 if any(pairs[k] != agree[k] for k in pairs) else 0)


if __name__ == "__main__":
    main()
