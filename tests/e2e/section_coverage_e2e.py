#!/usr/bin/python3
"""The report contract on a real guest (ctest label `vm`): every section of a full `kfreeze dump`
of the `scx-running` scenario is either filled or explained by its `*_unavailable` reason.

Dumps the guest in the formats `kfreeze dump` writes that carry the whole envelope (binpb,
proto-json) and runs section_coverage_check on each; that tool walks the report descriptor, so a
section added to the proto without a reason fails here too. The checker's list of unaccounted
sections is printed as the failure.

Usage: section_coverage_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze
                               --check BUILD/tests/report/section_coverage_check
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from e2e_common import Failure, arg_parser, check, labclient, outcome, run_tool


def coverage(checker, path):
    """section_coverage_check's verdict on one dump file: its stdout, or Failure listing the
    unaccounted sections."""
    res = subprocess.run([str(checker), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=60)
    out = res.stdout.decode(errors="replace").strip()
    err = res.stderr.decode(errors="replace").strip()
    check(res.returncode != 2, f"{path.name}: checker could not read the dump: {err}")
    if res.returncode != 0:
        raise Failure(f"{path.name}: sections neither filled nor explained:\n{out}")
    return out


def main():
    ap = arg_parser(__doc__, "e2e-section-coverage", "kfreeze", "check")
    args = ap.parse_args()

    def body():
        with labclient.guest(args.name, "scx-running") as g, tempfile.TemporaryDirectory() as tmp:
            failures = []
            for fmt, name in (("binpb", "dump.binpb"), ("proto-json", "dump.json")):
                res = run_tool([args.kfreeze, "dump", "--ram", g.ram, "--qmp", g.qmp, "--format", fmt],
                               f"kfreeze dump --format {fmt}")
                path = Path(tmp) / name
                path.write_bytes(res.stdout)
                try:
                    print(f"{fmt}: {coverage(args.check, path)}", flush=True)
                except Failure as e:
                    failures.append(str(e))
            check(not failures, "\n".join(failures))

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
