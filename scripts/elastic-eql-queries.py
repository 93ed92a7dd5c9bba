#!/usr/bin/env python3
"""Extracts the query of every single-event EQL rule for Linux from Elastic's detection-rules.

    scripts/elastic-eql-queries.py REPO [OUT]

REPO is a detection-rules checkout (a bare git repository works: files are read at HEAD). Rules
under rules/linux and rules/cross-platform, and building-block rules tagged "OS: Linux", whose
language is "eql" and whose query is not a sequence, join or sample and has no pipe. Writes one JSON object
per line, {"file": ..., "query": ...}, to OUT (default stdout); counts go to stderr. Feed the
output to `scanwatch_rules_tests "[eql-corpus]"` with SCANWATCH_EQL_QUERIES=OUT to see how many parse.
"""
import json
import re
import subprocess
import sys
import tomllib


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True).stdout


def has_pipe(query):
    # A `|` outside strings: EQL pipes. Strings are "...", '...' and """...""".
    text = re.sub(r'"""[\s\S]*?"""', '""', query)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])*'", "''", text)
    return "|" in text


def main():
    repo = sys.argv[1]
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    paths = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "rules/linux",
                "rules/cross-platform", "rules_building_block").split()
    counts = {"eql": 0, "sequence": 0, "pipe": 0, "single": 0}
    for path in sorted(p for p in paths if p.endswith(".toml")):
        doc = tomllib.loads(git(repo, "show", f"HEAD:{path}"))
        rule = doc.get("rule", {})
        if rule.get("language") != "eql" or "query" not in rule:
            continue
        if path.startswith("rules_building_block/") and "OS: Linux" not in rule.get("tags", []):
            continue
        counts["eql"] += 1
        query = rule["query"]
        head = query.lstrip().lower()
        if head.startswith(("sequence", "join", "sample")):
            counts["sequence"] += 1
            continue
        if has_pipe(query):
            counts["pipe"] += 1
            continue
        counts["single"] += 1
        out.write(json.dumps({"file": path, "query": query}) + "\n")
    print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
