#!/usr/bin/env python3
"""Re-judge the survivors of a gremlins run against the current tests.

Usage: scripts/mutation-recheck.py PKG REPORT.json OUT.json [LOC ...]

A whole-package gremlins run (scripts/mutation.sh) takes minutes to hours.
After tests were added (and no code changed), every mutant it killed stays
killed; only its survivors (LIVED) can change. This applies each survivor
of REPORT.json by hand, exactly as gremlins did (the operator at the
reported line and column replaced by its mutation), runs that package's
tests the way gremlins does (`go test -failfast -timeout … ./PKG/DIR`),
restores the file, and writes OUT.json: the report with the survivors the
tests now catch marked KILLED. With LOC arguments (FILE:LINE:COL) only those
survivors are re-judged. scripts/mutation-table.sh prints OUT.json like any
report.

Run it on a tree whose non-test code is the code the report measured (only
tests added since); it does not check that. RECHECK_TIMEOUT (seconds, default
180) bounds one test run; a mutant that hangs the tests counts as TIMED OUT.
"""
import json
import os
import subprocess
import sys
import time

MUTATIONS = {
    "CONDITIONALS_BOUNDARY": {"<": "<=", "<=": "<", ">": ">=", ">=": ">"},
    "CONDITIONALS_NEGATION": {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"},
    "ARITHMETIC_BASE": {"+": "-", "-": "+", "*": "/", "/": "*", "%": "*"},
    "INCREMENT_DECREMENT": {"++": "--", "--": "++"},
    "INVERT_NEGATIVES": {"-": "+"},
}
TWO = ("<=", ">=", "==", "!=", "++", "--")


def mutate(line, col, typ):
    """Returns line with the operator at 1-based byte column col mutated."""
    b = line.encode()
    c = col - 1
    op = b[c:c + 2].decode(errors="replace")
    if op not in TWO:
        op = b[c:c + 1].decode(errors="replace")
    new = MUTATIONS[typ].get(op)
    if new is None:
        raise ValueError(f"no {typ} operator at column {col} of {line!r}")
    return (b[:c] + new.encode() + b[c + len(op):]).decode(), op, new


def judge(pkg, file, line, col, typ, timeout):
    path = os.path.join(pkg, file)
    with open(path, encoding="utf-8") as f:
        src = f.read()
    lines = src.split("\n")
    lines[line - 1], op, new = mutate(lines[line - 1], col, typ)
    target = "./" + os.path.normpath(os.path.join(pkg, os.path.dirname(file)))
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        r = subprocess.run(["go", "test", "-count=1", "-failfast", "-timeout", f"{timeout}s", target],
                           capture_output=True, text=True)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(src)
    if r.returncode == 0:
        return "LIVED", op, new, ""
    if "panic: test timed out" in r.stdout:
        return "TIMED OUT", op, new, ""
    if "[build failed]" in r.stdout or "[setup failed]" in r.stdout:
        return "NOT VIABLE", op, new, ""
    first = next((x.strip() for x in r.stdout.splitlines() if x.startswith("--- FAIL") or x.startswith("panic:")), "")
    return "KILLED", op, new, first


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    pkg, report, out = sys.argv[1:4]
    only = set(sys.argv[4:])
    timeout = int(os.environ.get("RECHECK_TIMEOUT", "180"))
    with open(report) as f:
        rep = json.load(f)
    start = time.time()
    for fl in rep["files"]:
        for m in fl["mutations"]:
            loc = f'{fl["file_name"]}:{m["line"]}:{m["column"]}'
            if m["status"] != "LIVED" or (only and loc not in only):
                continue
            status, op, new, why = judge(pkg, fl["file_name"], m["line"], m["column"], m["type"], timeout)
            print(f"{status:10} {m['type']:22} {loc}  {op} -> {new}  {why}", flush=True)
            m["status"] = status
    st = [m["status"] for fl in rep["files"] for m in fl["mutations"]]
    k, l = st.count("KILLED"), st.count("LIVED")
    rep["mutants_killed"], rep["mutants_lived"] = k, l
    rep["test_efficacy"] = 100 * k / (k + l) if k + l else 0
    rep["recheck_seconds"] = time.time() - start
    with open(out, "w") as f:
        json.dump(rep, f, indent=1)
    print(f"{pkg}: {k} killed / {l} lived = {rep['test_efficacy']:.1f} % ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
