#!/usr/bin/python3
"""A guest process names itself with bytes that are not UTF-8.

In a scx-running guest a shell writes b"\\xff\\xfebad\\xc3" to its own /proc/self/comm. Then:
  - `kfreeze dump` works in every format (text, proto-json, ktstr-json, binpb) and shows the comm
    with U+FFFD replacement characters (proto-json also carries the raw bytes in comm_raw);
  - kfreezed: Freeze, GetDump and WatchDumps all deliver the dump to the kfreeze CLI;
  - a third-party client (`buf curl`, which rejects invalid UTF-8 in string fields) reads the
    Freeze reply.

Usage: guest_strings_e2e.py --kfreezed ... --kfreeze ... --npm-prefix BUILD/npm
"""

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from e2e_common import Failure, arg_parser, check, labclient, outcome, run_tool
from server_support import Daemon, buf_curl, ensure_buf, report_of

RAW = b"\xff\xfebad\xc3"
SHOWN = "\ufffd\ufffdbad\ufffd"  # each maximal invalid subpart -> one U+FFFD


def renamed_task(report, pid):
    # snake_case from our CLI, lowerCamelCase from buf curl (protobuf's default JSON names).
    tasks = report.get("task_enrichments", report.get("taskEnrichments", []))
    for t in tasks:
        if int(t.get("pid", -1)) == pid:
            return t
    raise Failure(f"pid {pid} not among {len(tasks)} task records")


def main():
    ap = arg_parser(__doc__, "e2e-strings", "kfreezed", "kfreeze")
    ap.add_argument("--npm-prefix", required=True, help="where npm installs @bufbuild/buf")
    args = ap.parse_args()
    return outcome(lambda: run(args))


def run(args):
    buf = ensure_buf(Path(args.npm_prefix))
    with labclient.guest(args.name, "scx-running") as g, tempfile.TemporaryDirectory(prefix="kfd-str-") as tmp:
        # The shell renames itself (comm writes are only allowed on one's own thread group) and stays.
        octal = "".join(f"\\{b:03o}" for b in RAW)
        g.exec(f"setsid sh -c 'printf \"{octal}\" > /proc/$$/comm; while :; do sleep 1; done' "
               ">/dev/null 2>&1 </dev/null &", check=True)
        pid = None
        for line in g.exec("for p in /proc/[0-9]*; do printf '%s ' ${p#/proc/}; od -An -c $p/comm | head -1; done",
                           check=True).stdout.splitlines():
            if "377 376   b   a   d" in line:
                pid = int(line.split()[0])
        check(pid is not None, "the guest shell could not rename itself")
        print(f"renamed pid {pid}", flush=True)

        def dump_every_format():
            for fmt in ("text", "proto-json", "ktstr-json", "binpb"):
                res = run_tool([args.kfreeze, "dump", "--ram", g.ram, "--qmp", g.qmp, "--format", fmt],
                               f"dump --format {fmt}")
                if fmt == "binpb":
                    check(len(res.stdout) > 0, "empty binpb")
                    continue
                out = res.stdout.decode("utf-8")  # raises if the CLI printed invalid UTF-8
                if fmt == "text":
                    check(SHOWN in out, "text dump does not show the comm with U+FFFD")
                    continue
                doc = json.loads(out)
                _, rep = report_of(doc) if fmt == "proto-json" else ("", doc)
                t = renamed_task(rep, pid)
                check(t["comm"] == SHOWN, f"{fmt}: comm {t['comm']!r}")
                if fmt == "proto-json":
                    check(base64.b64decode(t.get("comm_raw", "")) == RAW, f"comm_raw {t.get('comm_raw')!r}")

        with Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=vm,ram={g.ram},qmp={g.qmp}"]) as d:
            def freeze_get_watch():
                d.wait_attached("vm")
                w = d.cli_popen("watch", "--target", "vm", "--count", "1", "--json",
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                r = d.freeze("vm")
                _, rep = report_of(r["envelope"])
                check(renamed_task(rep, pid)["comm"] == SHOWN, "Freeze reply comm")
                got = json.loads(d.cli("get", r["dump_id"], "--json").stdout)
                _, rep = report_of(got["envelope"] if "envelope" in got else got)
                check(renamed_task(rep, pid)["comm"] == SHOWN, "GetDump comm")
                out, err = w.communicate(timeout=120)
                check(w.returncode == 0, f"watch rc {w.returncode}: {err.decode(errors='replace').strip()}")
                text = out.decode("utf-8")  # the stream must be valid UTF-8 as a whole
                check(SHOWN in text or SHOWN.encode("ascii", "backslashreplace").decode() in text.lower(),
                      "WatchDumps did not deliver the renamed task")

            def buf_curl_reads_freeze():
                out = buf_curl(buf, d.sock, "-d", json.dumps({"target": "vm"}),
                               url="http://localhost/kfreeze.v1.FreezeService/Freeze", timeout=300)
                env = json.loads(out)["envelope"]
                t = renamed_task(env["single"], pid)
                check(t["comm"] == SHOWN, f"buf curl comm {t['comm']!r}")

            return d.run_checks([
                ("kfreeze dump in every format", dump_every_format),
                ("Freeze, GetDump and WatchDumps", freeze_get_watch),
                ("buf curl parses the Freeze reply", buf_curl_reads_freeze),
            ])


if __name__ == "__main__":
    sys.exit(main())
