#!/usr/bin/python3
"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by puppeteer-core
(npm, pinned by tests/browser/package-lock.json, installed with `npm ci` into the build tree),
against a kfreezed (`--http` on loopback) attached to a gated scx-stall lab guest with both
auto-triggers on:
  - the feed is live and shows a new dump within 2 s of a Freeze (the CLI over gRPC);
  - once the guest's scheduler stalls, the dual report's page shows the exit reason (an
    SCX_EXIT_ERROR kind), the stall clock with the runnable tasks, the DSQ board, the event
    counter chart and the kernel-layout text, with no script error.
Screenshots go to --shots (kept by the build as test artifacts).

Usage: dashboard_e2e.py --kfreezed BIN --kfreeze BIN --browser-dir tests/browser
                        --npm-prefix BUILD/browser-npm --shots BUILD/test-artifacts/dashboard
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from e2e_common import Failure, arg_parser, check, labclient, outcome_retrying_flake
from server_support import Daemon

SCENARIO = Path(__file__).resolve().parent / "scx_stall_gated.sh"
CHROMIUM = "/usr/bin/chromium"


def ensure_puppeteer(browser_dir: Path, prefix: Path) -> Path:
    """npm ci of tests/browser's lockfile into `prefix` (again when the lockfile changed)."""
    prefix.mkdir(parents=True, exist_ok=True)
    lock = browser_dir / "package-lock.json"
    installed = prefix / "package-lock.json"
    if not (prefix / "node_modules" / "puppeteer-core").exists() or \
            not installed.exists() or installed.read_bytes() != lock.read_bytes():
        for f in ("package.json", "package-lock.json"):
            shutil.copy(browser_dir / f, prefix / f)
        res = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=prefix,
                             capture_output=True, text=True, timeout=600)
        check(res.returncode == 0, f"npm ci of tests/browser failed: {res.stderr.strip()[-800:]}")
    script = prefix / "dashboard_check.mjs"
    shutil.copy(browser_dir / "dashboard_check.mjs", script)
    return script


def drive(script, *args, timeout=240):
    """One step of dashboard_check.mjs; its JSON findings."""
    res = subprocess.run(["node", str(script), *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "CHROMIUM": CHROMIUM})
    lines = [l for l in res.stdout.splitlines() if l.startswith("{")]
    check(lines, f"dashboard_check {args[0]}: rc {res.returncode}, no findings; stderr: {res.stderr.strip()[-800:]}")
    found = json.loads(lines[-1])
    check("failure" not in found, f"dashboard_check {args[0]}: {found.get('failure')} (errors {found.get('errors')})")
    check(not found.get("errors"), f"the page logged errors: {found['errors']}")
    return found


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read().decode())


def main():
    ap = arg_parser(__doc__, "e2e-dashboard", "kfreezed", "kfreeze")
    ap.add_argument("--browser-dir", required=True, type=Path)
    ap.add_argument("--npm-prefix", required=True, type=Path)
    ap.add_argument("--shots", required=True, type=Path)
    args = ap.parse_args()
    return outcome_retrying_flake(lambda guest: run(args, guest))


def run(args, guest):
    check(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: deploy/install-deps.sh installs Debian's chromium")
    script = ensure_puppeteer(args.browser_dir, args.npm_prefix)
    args.shots.mkdir(parents=True, exist_ok=True)
    with labclient.guest(args.name, str(SCENARIO)) as g, tempfile.TemporaryDirectory(prefix="kfd-dash-") as tmp:
        guest["console"] = g.console
        target = {"name": "stall", "ram_path": str(g.ram), "qmp_socket": str(g.qmp),
                  "triggers": {"late_enabled": True, "late_poll_ms": 5, "early_enabled": True,
                               "early_poll_ms": 50}}
        with Daemon(args.kfreezed, args.kfreeze, tmp, [], config={"targets": [target]},
                    extra_args=["--http", "127.0.0.1:0"]) as d:
            check(d.wait_log_line("attached kernel", timeout=60) is not None,
                  f"kfreezed did not attach within 60 s:\n{d.log_tail(2000)}")
            m = re.search(r"http: serving (127\.0\.0\.1:\d+)", d.log_text())
            check(m, "kfreezed logged no HTTP address")
            base = f"http://{m.group(1)}"
            state = {}

            def feed_shows_a_freeze_within_2s():
                found = drive(script, "feed", base, args.shots, "--", *d.cli_argv("freeze", "stall", "--json"))
                check(found["freeze_rc"] == 0, f"the Freeze failed: {found['freeze_err']}")
                print(f"feed row after {found['row_ms']} ms", flush=True)
                check(found["row_ms"] <= 2000, f"the feed showed the dump after {found['row_ms']} ms")

            def dual_stall_page():
                check(g.exec("touch /tmp/kfreeze-go").rc == 0, "cannot release the gated scenario")
                deadline = time.time() + 200
                dumps = []
                while time.time() < deadline and not dumps:
                    dumps = get_json(f"{base}/api/v1/dumps?schema=dual").get("dumps", [])
                    time.sleep(0.5)
                check(dumps, f"no dual report within 200 s:\n{d.log_tail(3000)}")
                found = drive(script, "dump", base, args.shots, dumps[0]["dump_id"])
                print(json.dumps({k: v for k, v in found.items() if k != "kernel_style"}), flush=True)
                check(found["exit"] and "ERROR" in found["exit"], f"exit shown: {found['exit']}")
                check(found["stall_clock_rows"] and found["stall_clock_rows"] >= 1,
                      f"stall clock rows: {found['stall_clock_rows']}")
                check(found["dsqs"], "the DSQ board is empty")
                check(found["counter_samples"] is not None, "no event counter chart")
                check(found["kernel_style"].strip(), "the kernel-layout text is empty")

            return d.run_checks([
                ("the feed shows a new dump within 2 s of a Freeze", feed_shows_a_freeze_within_2s),
                ("the dual stall report's page: exit, stall clock, DSQ board, counter chart", dual_stall_page),
            ])


if __name__ == "__main__":
    sys.exit(main())
