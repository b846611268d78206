"""Turns the guest's truth.sh output into the ground-truth JSON document.

Top-level keys are fixed by the lab's contract (tests/vm/README.md): release, nr_cpus, kallsyms,
maps, map_dumps, progs, sched_ext, tasks, proc_stat_cpu, pressure, dmesg_scx.
"""

import json

from .proc import LabError

KALLSYMS = ("_text", "init_task", "map_idr", "prog_idr", "scx_root", "runqueues", "__per_cpu_offset")
TRUTH_KEYS = ("release", "nr_cpus", "kallsyms", "maps", "map_dumps", "progs", "sched_ext", "tasks",
              "proc_stat_cpu", "pressure", "dmesg_scx")


def _sections(text: str) -> list:
    """[(name, arg, body)] in output order."""
    out = []
    for chunk in text.split("@@SECTION ")[1:]:
        header, _, body = chunk.partition("\n")
        name, _, arg = header.strip().partition(" ")
        out.append((name, arg, body))
    return out


def _json_or_error(body: str):
    """bpftool -j prints JSON even for errors; anything else is kept as an error string."""
    body = body.strip()
    try:
        return json.loads(body) if body else {"error": "no output"}
    except json.JSONDecodeError:
        return {"error": body}


def _task(line: str):
    # /proc/<pid>/stat: "pid (comm) S ..."; comm may itself contain spaces and parentheses.
    open_paren, close_paren = line.find("("), line.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    rest = line[close_paren + 1:].split()
    return {"pid": int(line[:open_paren]), "comm": line[open_paren + 1:close_paren],
            "state": rest[0] if rest else "?"}


def parse(text: str) -> dict:
    truth = {"release": None, "nr_cpus": None, "kallsyms": {}, "maps": [], "map_dumps": {},
             "progs": [], "sched_ext": {}, "tasks": [], "proc_stat_cpu": [], "pressure": {},
             "dmesg_scx": []}
    seen_end = False
    for name, arg, body in _sections(text):
        lines = [ln for ln in body.splitlines() if ln.strip()]
        if name == "release":
            truth["release"] = lines[0].strip() if lines else None
        elif name == "nr_cpus":
            truth["nr_cpus"] = int(lines[0]) if lines else None
        elif name == "kallsyms":
            for ln in lines:
                parts = ln.split()
                if len(parts) >= 3 and parts[2] in KALLSYMS and parts[2] not in truth["kallsyms"]:
                    truth["kallsyms"][parts[2]] = "0x" + parts[0].lower()
        elif name == "maps":
            truth["maps"] = _json_or_error(body)
        elif name == "map_dump":
            truth["map_dumps"][arg] = _json_or_error(body)
        elif name == "progs":
            truth["progs"] = _json_or_error(body)
        elif name == "sched_ext":
            truth["sched_ext"][arg.replace("/", "_")] = body.strip()
        elif name == "tasks":
            truth["tasks"] = [t for t in map(_task, lines) if t]
        elif name == "proc_stat_cpu":
            truth["proc_stat_cpu"] = lines
        elif name == "pressure":
            truth["pressure"][arg] = body.strip()
        elif name == "dmesg_scx":
            truth["dmesg_scx"] = lines
        elif name == "end":
            seen_end = True
    if not seen_end:
        raise LabError("truth: guest output ended early (no end section)")
    assert tuple(truth) == TRUTH_KEYS
    return truth
