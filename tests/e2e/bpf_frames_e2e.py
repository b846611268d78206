#!/usr/bin/python3
"""JIT'd BPF frames in kernel stacks, in a real guest (ctest label `vm`).

Scenario `scx-error` (tests/vm/bpf/scx_error.bpf.c): the lab_error sched_ext scheduler, whose
ops.enqueue (the program lab_error_enqueue) spins ~4 ms through bpf_loop for each lab_spin
enqueue and calls scx_bpf_error() once its error deadline has passed. The test boots it with the
deadline an hour away (/lab/scx-error.env) and raises the error itself later by rewriting the map
lab_error_cfg.

(a) symbolization, always: the guest's /proc/kallsyms names the JIT'd programs
    (bpf_prog_<tag>_lab_error_enqueue, ..._lab_error_spin_step) and bpftool their JIT sizes.
    `kfreeze dump --format proto-json` is repeated (up to 20 dumps) until a vCPU is caught inside
    lab_error_enqueue (or the bpf_loop callback it runs). That task's kernel_stack must hold a frame
    "bpf_prog_<tag>_lab_error_enqueue+0xOFF/0xSIZE" with the kallsyms name, pc = kallsyms start +
    OFF, SIZE = the JIT size; the frame after it must have been reached by "frame_pointer", and a
    later frame must be the kernel's scx enqueue path (scx_do_enqueue_task / do_enqueue_task /
    enqueue_task_scx / put_prev_task_scx). Every BPF frame on that stack must name its program as
    kallsyms does. The whole stack is printed. Then the error is raised and the guest must eject
    the scheduler with SCX_EXIT_ERROR_BPF (1025) and print its backtrace (dmesg), for the record.
(b) --watchpoint (needs --kfreezed and --watch, the scx_watch_dual tool): kfreezed with the late
    trigger on (late_source "auto"), the error raised once the gdbstub watchpoint is set; the dual
    report must say trigger_source "watchpoint", and the task on trigger_vcpu must have
    scx_bpf_error_bstr (or scx_exit*/scx_vexit) ABOVE the bpf_prog_<tag>_lab_error_enqueue frame,
    compared with the kernel's own backtrace of the error in dmesg.

A guest that cannot boot fails the test with the reason.

Usage: bpf_frames_e2e.py --kfreeze BIN [--watchpoint --kfreezed BIN --watch BIN] [--name GUEST]
"""

import json
import re
import sys
import tempfile
import time
from pathlib import Path

from e2e_common import (arg_parser, check, died_of_flake, dump_single, Failure, FLAKE_MARK,
                         labclient, outcome, run_checks, u)

SCENARIO = "scx-error"
PROG = "lab_error_enqueue"
SPIN_CB = "lab_error_spin_step"
DUMP_ATTEMPTS = 20
SCX_EXIT_ERROR_BPF = 1025
# The kernel's scx enqueue path below ops.enqueue (names differ across releases).
ENQUEUE_PATH = ("scx_do_enqueue_task", "do_enqueue_task", "enqueue_task_scx", "put_prev_task_scx")
# What raises the error above the BPF program: the kfunc and the exit helpers it calls.
ERROR_PATH = ("scx_bpf_error", "scx_exit", "scx_vexit", "scx_bpf_exit")
# The functions of the JIT'd program lab_error_enqueue (each has its own kallsyms entry).
FUNCS_OF_PROG = {PROG: (PROG, SPIN_CB)}
FUNCS = {fn for funcs in FUNCS_OF_PROG.values() for fn in funcs}
BPF_FRAME = re.compile(r"^(bpf_prog_[0-9a-f]{16}_([A-Za-z0-9_]+))\+0x([0-9a-f]+)/0x([0-9a-f]+)$")
ENV = "LAB_ERROR_AFTER_MS=3600000\n"  # the test raises the error itself


def main():
    ap = arg_parser(__doc__, "e2e-bpf-frames", "kfreeze")
    ap.add_argument("--watchpoint", action="store_true",
                    help="also (b): kfreezed's late watchpoint trigger at the scx_bpf_error() exit")
    ap.add_argument("--kfreezed", help="kfreezed binary (with --watchpoint)")
    ap.add_argument("--watch", help="scx_watch_dual binary (with --watchpoint)")
    args = ap.parse_args()
    if args.watchpoint and not (args.kfreezed and args.watch):
        ap.error("--watchpoint needs --kfreezed and --watch")
    parts = [("symbolization", run_symbolization)]
    if args.watchpoint:
        parts.append(("watchpoint", run_watchpoint))
    for title, body in parts:
        print(f"==== ({'a' if title == 'symbolization' else 'b'}) {title}", flush=True)
        # The TCG "Oops: int3" flake of sched_ext's static-key patching (see scx_stall_e2e.py):
        # one fresh guest.
        for attempt in (1, 2):
            guest = {}
            rc = outcome(lambda: body(args, guest))
            flake = died_of_flake(guest.get("console"))
            if rc == 0 or not flake or attempt == 2:
                break
            print(f"retrying: the guest hit the TCG '{FLAKE_MARK}' oops ({flake})", flush=True)
        if rc != 0:
            return rc
    return 0


def boot(args, tmp):
    env = Path(tmp) / "scx-error.env"
    env.write_text(ENV)
    return labclient.guest(args.name, SCENARIO, add={str(env): "/lab/scx-error.env"})


# ---- guest side


def bpf_symbols(g):
    """({kallsyms name: start} of the lab_error programs' functions, {program: bytes_jited})."""
    res = g.exec("grep '_lab_error_' /proc/kallsyms; echo ====; bpftool -j prog show", check=True)
    ksyms, _, progs = res.stdout.partition("====")
    starts = {}
    for line in ksyms.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("bpf_prog_"):
            starts[parts[2]] = int(parts[0], 16)
    # bpftool names a program by its BTF function name, like kallsyms.
    jit = {p.get("name"): p.get("bytes_jited") for p in json.loads(progs or "[]")}
    check(any(n.endswith("_" + PROG) for n in starts), f"no bpf_prog_*_{PROG} in /proc/kallsyms: {starts}")
    check(PROG in jit, f"bpftool shows no program {PROG}: {sorted(jit)}")
    return starts, jit


def set_cfg(g, error_after_ns, spin_ns=4_000_000):
    """Rewrites lab_error_cfg (u64 error_after_ns, u64 spin_ns)."""
    le = " ".join(str(b) for b in error_after_ns.to_bytes(8, "little") + spin_ns.to_bytes(8, "little"))
    g.exec(f"bpftool map update name lab_error_cfg key 0 0 0 0 value {le}", check=True)


def raise_error_and_wait(g):
    """Raises the error now and waits for the ejection; the dmesg backtrace of the error."""
    set_cfg(g, 1)
    for _ in range(60):
        if g.exec("cat /sys/kernel/sched_ext/state").stdout.strip() == "disabled":
            break
        time.sleep(0.5)
    else:
        raise Failure("sched_ext did not leave 'enabled' within 30 s of raising the error")
    bss = g.exec("bpftool -j map dump name scx_erro.bss", check=True).stdout
    rec = json.loads(bss)[0]["formatted"]["value"][".bss"]
    fields = {k: v for d in rec for k, v in d.items()}
    exit_rec = fields.get("lab_exit_rec", {})
    dmesg = g.exec("dmesg | sed -n '/disabled (scx_bpf_error)/,$p' | head -30").stdout
    print(f"ejected: lab_exit_rec {exit_rec}", flush=True)
    print("guest dmesg (the kernel's backtrace of the error):\n" + dmesg, flush=True)
    check(exit_rec.get("kind") == SCX_EXIT_ERROR_BPF,
          f"exit kind {exit_rec.get('kind')} != SCX_EXIT_ERROR_BPF ({SCX_EXIT_ERROR_BPF}): {exit_rec}")
    return dmesg


# ---- kfreeze side



def frame_text(f):
    return (f"{f.get('symbol') or hex(u(f.get('pc')))}  pc={u(f.get('pc')):#x} "
            f"sp={u(f.get('sp')):#x} via={f.get('via', '?')}")


def show_stack(task):
    print(f"  pid {task.get('pid')} ({task.get('comm')}) cpu {task.get('cpu', 0)} origin "
          f"{task.get('kernel_stack_origin')!r}:", flush=True)
    for i, f in enumerate(task.get("kernel_stack", [])):
        print(f"    #{i:<2} {frame_text(f)}", flush=True)


def name_of(symbol):
    return symbol.partition("+")[0]


def prog_frame(stack, prog):
    """Index of the first frame in `prog` (bpf_prog_<tag>_<prog>+0x../0x..), or None."""
    for i, f in enumerate(stack):
        m = BPF_FRAME.match(f.get("symbol", ""))
        if m and m.group(2) == prog:
            return i
    return None


def caught(report):
    """The task whose kernel_stack runs through lab_error_enqueue, or None."""
    for t in report.get("task_enrichments", []):
        if prog_frame(t.get("kernel_stack", []), PROG) is not None:
            return t
    return None


def check_bpf_frames(stack, symbols):
    """Every BPF frame names its function as kallsyms does, at the right offset; the sizes agree
    with the JIT: a program's image is its functions' (lab_error_enqueue's: itself and its bpf_loop
    callback), so their sizes add up to bpftool's bytes_jited when the stack shows them all."""
    starts, jit = symbols
    sizes = {}
    for f in stack:
        m = BPF_FRAME.match(f.get("symbol", ""))
        if not m or m.group(2) not in FUNCS:
            continue
        name, off, size = m.group(1), int(m.group(3), 16), int(m.group(4), 16)
        check(name in starts, f"frame {f['symbol']!r}: {name} is not in the guest's kallsyms "
                              f"({sorted(starts)})")
        check(u(f.get("pc")) == starts[name] + off,
              f"frame {f['symbol']!r}: pc {u(f.get('pc')):#x} != kallsyms {starts[name]:#x} + {off:#x}")
        check(off < size, f"frame {f['symbol']!r}: offset past the symbol's size")
        sizes[m.group(2)] = size
    for prog, funcs in FUNCS_OF_PROG.items():
        seen = [sizes[fn] for fn in funcs if fn in sizes]
        if not seen or prog not in jit:
            continue
        if len(seen) == len(funcs):
            check(sum(seen) == jit[prog], f"{prog}: function sizes {sizes} do not add up to bpftool's "
                                          f"bytes_jited {jit[prog]}")
            print(f"  JIT sizes: {' + '.join(f'{fn} {sizes[fn]:#x}' for fn in funcs)} = "
                  f"bytes_jited {jit[prog]:#x}", flush=True)
        else:
            check(max(seen) <= jit[prog], f"{prog}: a function size in {sizes} exceeds bytes_jited "
                                          f"{jit[prog]}")


def run_symbolization(args, guest):
    with tempfile.TemporaryDirectory() as tmp, boot(args, tmp) as g:
        guest["console"] = g.console
        symbols = bpf_symbols(g)
        for name, start in sorted(symbols[0].items(), key=lambda kv: kv[1]):
            print(f"kallsyms: {start:#x} {name}", flush=True)
        print(f"bpftool bytes_jited: { {k: v for k, v in symbols[1].items() if k.startswith('lab_error')} }",
              flush=True)
        task, tries = None, []
        for attempt in range(1, DUMP_ATTEMPTS + 1):
            report = dump_single(args.kfreeze, g)
            check(not report.get("kernel_stacks_unavailable"),
                  f"kernel_stacks_unavailable: {report.get('kernel_stacks_unavailable')}")
            task = caught(report)
            running = [(t.get("comm"), t.get("kernel_stack_origin"),
                        name_of(t["kernel_stack"][0].get("symbol", "")) if t.get("kernel_stack") else "-")
                       for t in report.get("task_enrichments", []) if t.get("is_running")]
            print(f"dump {attempt}: {'caught' if task else 'not inside'} {PROG}; running {running}",
                  flush=True)
            if task:
                break
            tries.append(running)
        check(task is not None, f"no vCPU caught inside {PROG} in {DUMP_ATTEMPTS} dumps: {tries}")
        stack = task["kernel_stack"]
        show_stack(task)

        def frame_named():
            i = prog_frame(stack, PROG)
            check(task.get("kernel_stack_origin", "").startswith("vcpu "),
                  f"origin {task.get('kernel_stack_origin')!r}, want 'vcpu N' (a running task)")
            check_bpf_frames(stack, symbols)
            print(f"  BPF frame #{i}: {stack[i]['symbol']}", flush=True)

        def frame_pointer_after():
            i = prog_frame(stack, PROG)
            check(i + 1 < len(stack), f"the stack ends at the BPF frame #{i}")
            check(stack[i + 1].get("via") == "frame_pointer",
                  f"frame #{i + 1} after the BPF frame: via {stack[i + 1].get('via')!r}, want "
                  f"'frame_pointer'")

        def enqueue_path_below():
            i = prog_frame(stack, PROG)
            below = [name_of(f.get("symbol", "")) for f in stack[i + 1:]]
            check(any(n in ENQUEUE_PATH for n in below),
                  f"no scx enqueue path frame ({', '.join(ENQUEUE_PATH)}) below the BPF frame: {below}")

        rc = run_checks([
            (f"{PROG} frame named as in kallsyms (name, offset, JIT size)", frame_named),
            ("the frame after the BPF frame came by frame_pointer", frame_pointer_after),
            ("the scx enqueue path lies below the BPF frame", enqueue_path_below),
            ("scx_bpf_error() ejects the scheduler with SCX_EXIT_ERROR_BPF", lambda: raise_error_and_wait(g)),
        ])
        return rc or None


def run_watchpoint(args, guest):
    from server_support import trigger_daemon, watch_first_dump  # only (b) runs kfreezed

    with tempfile.TemporaryDirectory() as tmp, boot(args, tmp) as g:
        guest["console"] = g.console
        symbols = bpf_symbols(g)
        triggers = {"late_enabled": True, "late_poll_ms": 20, "late_source": "auto"}
        with trigger_daemon(args.kfreezed, tmp, g, "bpf-error", triggers, watchpoint=True) as d:
            out = Path(tmp) / "event.json"
            watch = watch_first_dump(args.watch, d, out)
            try:
                time.sleep(1)
                dmesg = raise_error_and_wait(g)
                rc = watch.wait(timeout=200)
                check(rc == 0, f"no dual report: {watch.stderr.read().decode(errors='replace')}\n"
                               f"kfreezed log tail:\n{d.log_text()[-4000:]}")
            finally:
                if watch.poll() is None:
                    watch.kill()
                    watch.wait()
            env = json.loads(out.read_text())["envelope"]
        check("dual" in env, f"event is not a dual report: {list(env)}")
        dual = env["dual"]
        late = dual.get("late", {})
        print(f"dual report: trigger_source {dual.get('trigger_source')!r} trigger_vcpu "
              f"{dual.get('trigger_vcpu')} late_exit_info {dual.get('late_exit_info')!r}", flush=True)
        check(dual.get("trigger_source") == "watchpoint",
              f"trigger_source {dual.get('trigger_source')!r} != 'watchpoint'")
        check("trigger_vcpu" in dual, f"no trigger_vcpu: {sorted(dual)}")
        vcpu = dual["trigger_vcpu"]
        writers = [t for t in late.get("task_enrichments", [])
                   if t.get("kernel_stack_origin") == f"vcpu {vcpu}"]
        check(writers, f"no task's kernel_stack starts at vcpu {vcpu} (kernel_stacks_unavailable: "
                       f"{late.get('kernel_stacks_unavailable')!r})")
        task = writers[0]
        stack = task.get("kernel_stack", [])
        show_stack(task)
        i = prog_frame(stack, PROG)
        check(i is not None, f"no bpf_prog_*_{PROG} frame on vcpu {vcpu}'s stack")
        above = [name_of(f.get("symbol", "")) for f in stack[:i]]
        check(any(n.startswith(ERROR_PATH) for n in above),
              f"no scx_bpf_error/scx_exit frame above the BPF frame #{i}: {above}")
        check(i + 1 < len(stack) and stack[i + 1].get("via") == "frame_pointer",
              f"the frame after the BPF frame #{i} was not reached by frame_pointer")
        check_bpf_frames(stack, symbols)
        print(f"  writer's stack: {above} above the BPF frame #{i} {stack[i]['symbol']}", flush=True)
        # The kernel saved its own backtrace of the error right after the exit_kind write
        # (dmesg): from scx_bpf_error_bstr down those are return addresses, so kfreeze's frames
        # must hold the very same "name+0xoff/0xsize" strings, in order.
        kernel = [ln.split()[-1] for ln in dmesg.splitlines() if re.search(r"\]\s{2,}\S+\+0x", ln)]
        kernel = kernel[next((k for k, s in enumerate(kernel) if s.startswith("scx_bpf_error")), 0):]
        ours = [f.get("symbol", "") for f in stack]
        print(f"  dmesg backtrace from the kfunc down: {kernel}", flush=True)
        check(kernel, "no backtrace of the error in dmesg")
        it = iter(ours)
        missing = [w for w in kernel if not any(o == w for o in it)]
        check(not missing, f"dmesg frames {missing} not in order in kfreeze's stack {ours}")
        return None



if __name__ == "__main__":
    sys.exit(main())
