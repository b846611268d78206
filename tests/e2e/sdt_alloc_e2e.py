#!/usr/bin/python3
"""The scx arena allocators against a real sched_ext guest (ctest label `vm`).

Boots the `sdt-alloc` scenario (tests/vm/bpf/sdt_alloc.bpf.c: a scheduler that builds an
sdt_alloc tree of 4 struct lab_task_rec records and an scx_static region in its BPF arena), reads
the scheduler's .bss inside the guest with bpftool, runs `kfreeze maps` on the guest's RAM file
(ktstr JSON) and checks:
  - sdt_allocations has lab_task_allocator with elem_size 24, payload type lab_task_rec, and
    exactly the 4 records the guest wrote: tid {idx i, genn 1}, pid 1000 + i, magic
    0x5d7a110c0000 + i, each at the arena address the guest's lab_sdt_base says;
  - scx_static_ranges has scx_static starting 5 pages past lab_sdt_base, 48 bytes of 8192;
  - neither section carries an *_unavailable reason.

Usage: sdt_alloc_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze
"""

import json
import sys
import tempfile
from pathlib import Path

from e2e_common import arg_parser, check, labclient, outcome, run_tool, u

RECORDS = 4
PID0 = 1000
MAGIC = 0x5D7A110C0000
ELEM_SIZE = 24  # 8-byte sdt_data header + struct lab_task_rec
PAGE = 4096
STATIC_BYTES = 48


def guest_bss(g):
    """The scheduler's .bss variables as bpftool formats them: {var: value}."""
    res = g.exec("bpftool -j map dump name sdt_allo.bss")
    check(res.rc == 0, f"bpftool map dump sdt_allo.bss failed: {res}")
    out = {}

    def collect(node):  # the {var: value} dicts sit a few levels down in bpftool's "formatted"
        if isinstance(node, dict):
            for k, v in node.items():
                if k.startswith("lab_sdt_"):
                    out[k] = v
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(json.loads(res.stdout))
    check("lab_sdt_base" in out, f"sdt_allo.bss has no lab_sdt_base: {res.stdout[:500]}")
    return out


def members(rv):
    """A ktstr-JSON RenderedValue struct -> {member: uint value}."""
    check(rv.get("kind") == "struct", f"payload is not a struct: {json.dumps(rv)[:300]}")
    return {m["name"]: u(m["value"].get("value")) for m in rv["members"]}


def check_report(report, base):
    check("sdt_alloc_unavailable" not in report,
          f"sdt_alloc_unavailable: {report.get('sdt_alloc_unavailable')}")
    allocs = {a["allocator_name"]: a for a in report.get("sdt_allocations", [])}
    check("lab_task_allocator" in allocs, f"no lab_task_allocator in sdt_allocations: {list(allocs)}")
    a = allocs["lab_task_allocator"]
    check(u(a.get("elem_size")) == ELEM_SIZE, f"elem_size {a.get('elem_size')} != {ELEM_SIZE}")
    check(not a.get("truncated") and u(a.get("skipped_subtrees")) == 0,
          f"walk incomplete: truncated={a.get('truncated')} skipped={a.get('skipped_subtrees')}")
    check(not a.get("payload_type_reason"), f"payload untyped: {a.get('payload_type_reason')}")
    entries = a.get("entries", [])
    check(len(entries) == RECORDS, f"{len(entries)} entries, guest wrote {RECORDS}")
    slab = base + 4 * PAGE
    for i, e in enumerate(sorted(entries, key=lambda e: u(e.get("idx")))):
        what = f"record {i}"
        check(u(e.get("idx")) == i and u(e.get("genn")) == 1, f"{what}: tid {e.get('idx')}/{e.get('genn')}")
        want_addr = (slab + i * ELEM_SIZE) & 0xFFFFFFFF
        check(u(e.get("user_addr")) == want_addr, f"{what}: user_addr {u(e.get('user_addr')):#x} != {want_addr:#x}")
        check(e["payload"].get("type_name") == "lab_task_rec",
              f"{what}: payload type {json.dumps(e['payload'])[:200]}")
        got = members(e["payload"])
        check(got == {"pid": PID0 + i, "magic": MAGIC + i}, f"{what}: payload {got}")

    check("scx_static_unavailable" not in report,
          f"scx_static_unavailable: {report.get('scx_static_unavailable')}")
    ranges = {r["instance_name"]: r for r in report.get("scx_static_ranges", {}).get("ranges", [])}
    check("scx_static" in ranges, f"no scx_static range: {report.get('scx_static_ranges')}")
    r = ranges["scx_static"]
    check(u(r.get("start_low32")) == ((base + 5 * PAGE) & 0xFFFFFFFF), f"scx_static start {r}")
    check(u(r.get("size")) == STATIC_BYTES and u(r.get("capacity")) == 2 * PAGE, f"scx_static range {r}")


def main():
    args = arg_parser(__doc__, "kfreeze-e2e-sdt", "kfreeze").parse_args()

    def body():
        with labclient.guest(args.name, "sdt-alloc") as g, tempfile.TemporaryDirectory() as tmp:
            bss = guest_bss(g)
            check(u(bss.get("lab_sdt_ready")) == 1, f"scheduler not ready: {bss}")
            base = u(bss["lab_sdt_base"])
            out = Path(tmp) / "report.json"
            run_tool([args.kfreeze, "maps", "--ram", g.ram, "--format", "ktstr-json", "--out", out])
            check_report(json.loads(out.read_text()), base)
            print(f"sdt_alloc: {RECORDS} records and the scx_static range match the guest "
                  f"(arena block at {base:#x})")

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
