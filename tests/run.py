#!/usr/bin/python3
"""Runs every test of `make test` and prints one closing line: `N passed, N failed`.

Stages, each counted case by case:
  format        every tracked C file is clang-format clean
  unit          the cmocka tests, on the plain and on the sanitized build
  integration   pytest with real clients on build/, then again on build-asan/ (but the
                long multi-node timing tests marked plain_only, which the plain pass runs:
                the sanitized pass covers the same code through the shorter ones)
  fuzz          the HTTP request fuzzer for FUZZ_TEST_SECONDS (default 20)

Environment: SHOAL_TEST_ONLY=stage[,stage] runs a subset; PYTEST_ARGS adds arguments.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"

totals = {"passed": 0, "failed": 0, "skipped": 0}
failures = []


def say(msg):
    print(msg, flush=True)


def count(stage, passed, failed, skipped=0, names=()):
    totals["passed"] += passed
    totals["failed"] += failed
    totals["skipped"] += skipped
    failures.extend(f"{stage}: {n}" for n in names)
    say(f"== {stage}: {passed} passed, {failed} failed" +
        (f", {skipped} skipped" if skipped else ""))


def stage_format():
    files = subprocess.run(["git", "ls-files", "*.c", "*.h"], cwd=REPO, capture_output=True,
                           text=True).stdout.split()
    bad = []
    for f in files:
        r = subprocess.run(["clang-format", "--dry-run", "-Werror", f], cwd=REPO,
                           capture_output=True)
        if r.returncode != 0:
            bad.append(f)
    if bad:
        say("clang-format would change: " + " ".join(bad))
    count("format", 0 if bad else 1, 1 if bad else 0, names=["clang-format " + b for b in bad])


def stage_unit(build):
    """Every meson test of the unit suite, counted case by case from cmocka's output."""
    intro = subprocess.run(["meson", "introspect", "--tests", os.path.join(REPO, build)],
                           capture_output=True, text=True)
    tests = [t for t in json.loads(intro.stdout or "[]") if any(s.endswith("unit") for s in t.get("suite", []))]
    passed = failed = 0
    names = []
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    for t in sorted(tests, key=lambda t: t["name"]):
        r = subprocess.run(t["cmd"], capture_output=True, text=True, env=env, timeout=300,
                           cwd=t.get("workdir") or None)
        out = r.stdout + r.stderr
        p = sum(int(m) for m in re.findall(r"\[  PASSED  \] (\d+) test", out))
        f = sum(int(m) for m in re.findall(r"\[  FAILED  \] (\d+) test", out))
        if r.returncode != 0 and f == 0:
            f = 1  # crashed or a sanitizer report after the cases passed
        if f:
            say(out[-4000:])
            names.append(f"{build} {t['name']}")
        passed += p
        failed += f
    count(f"unit ({build})", passed, failed, names=names)


def stage_integration(build, extra=()):
    with tempfile.NamedTemporaryFile(suffix=".xml") as junit:
        env = dict(os.environ, SHOAL_BUILD=build)
        argv = [PY, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf",
                f"--junitxml={junit.name}", "tests/integration", *extra]
        argv += os.environ.get("PYTEST_ARGS", "").split()
        r = subprocess.run(argv, cwd=REPO, env=env)
        try:
            root = ET.parse(junit.name).getroot()
        except ET.ParseError:
            count(f"integration ({build})", 0, 1, names=[f"pytest exited {r.returncode}"])
            return
        suites = [root] if root.tag == "testsuite" else list(root)
        tests = sum(int(s.get("tests", 0)) for s in suites)
        bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        skipped = sum(int(s.get("skipped", 0)) for s in suites)
        names = [f"{c.get('classname')}::{c.get('name')}" for c in root.iter("testcase")
                 if c.find("failure") is not None or c.find("error") is not None]
        if r.returncode not in (0, 1, 5) and bad == 0:
            bad, names = 1, [f"pytest exited {r.returncode}"]
        count(f"integration ({build})", tests - bad - skipped, bad, skipped, names)


def stage_fuzz():
    seconds = os.environ.get("FUZZ_TEST_SECONDS", "20")
    r = subprocess.run([os.path.join(REPO, "tests", "fuzz", "run.sh"),
                        os.path.join(REPO, "build-fuzz", "tests", "fuzz", "fuzz_http"), seconds],
                       cwd=REPO)
    count("fuzz (http request parser)", 1 if r.returncode == 0 else 0,
          0 if r.returncode == 0 else 1, names=[] if r.returncode == 0 else ["fuzz_http"])


def main():
    only = set(filter(None, os.environ.get("SHOAL_TEST_ONLY", "").split(",")))
    start = time.monotonic()
    stages = [
        ("format", stage_format),
        ("unit", lambda: stage_unit("build")),
        ("unit", lambda: stage_unit("build-asan")),
        ("integration", lambda: stage_integration("build")),
        ("integration", lambda: stage_integration("build-asan", ["-m", "not plain_only"])),
        ("fuzz", stage_fuzz),
    ]
    for name, fn in stages:
        if only and name not in only:
            continue
        fn()
    say(f"== took {time.monotonic() - start:.0f} s")
    for f in failures:
        say(f"FAILED {f}")
    line = f"{totals['passed']} passed, {totals['failed']} failed"
    if totals["skipped"]:
        line += f", {totals['skipped']} skipped"
    say(line)
    return 1 if totals["failed"] or totals["passed"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
