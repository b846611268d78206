"""Collects the guest's ground truth (guest side: tests/vm/guest/truth.sh) into one JSON document.

Top-level keys are fixed by the lab's contract (tests/vm/README.md): release, nr_cpus, kallsyms,
maps, map_dumps, progs, sched_ext, tasks, proc_stat_cpu, pressure, dmesg_scx.
"""

import json

from .proc import LabError

KALLSYMS = ("_text", "init_task", "map_idr", "prog_idr", "scx_root", "runqueues", "__per_cpu_offset")
TRUTH_KEYS = ("release", "nr_cpus", "kallsyms", "maps", "map_dumps", "progs", "sched_ext", "tasks",
              "proc_stat_cpu", "pressure", "dmesg_scx")
# bpftool 7.1 renders a BTF float as the bare token `(unsupported-kind` (invalid JSON) and stops
# rendering that value; quoting the token keeps the rest of the output usable.
BPFTOOL_FLOAT_TOKEN = "(unsupported-kind"
BPFTOOL_FLOAT_REPAIR = '"(unsupported-kind)"'


def _sections(text: str) -> list:
    """[(name, arg, body)] in output order."""
    out = []
    for chunk in text.split("@@SECTION ")[1:]:
        header, _, body = chunk.partition("\n")
        name, _, arg = header.strip().partition(" ")
        out.append((name, arg, body))
    return out


def _bpftool_json(body: str):
    """bpftool -j prints JSON even for errors; anything else is kept as an error string."""
    body = body.strip().replace(BPFTOOL_FLOAT_TOKEN, BPFTOOL_FLOAT_REPAIR)
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


def _apply_batch(truth: dict, body: str) -> bool:
    """Files each command's output of a `bpftool -j batch`; False if the output is not JSON."""
    results = _bpftool_json(body)
    if not isinstance(results, list):
        return False
    for item in results:
        cmd = item.get("command", [])
        output = item.get("output")
        if cmd == ["map", "show"]:
            truth["maps"] = output
        elif cmd == ["prog", "show"]:
            truth["progs"] = output
        elif cmd[:3] == ["map", "dump", "id"] and len(cmd) == 4:
            truth["map_dumps"][cmd[3]] = output
    return True


def _parse(text: str, truth: dict) -> list:
    """Fills truth from one truth.sh run; returns the map ids it listed (empty for follow-ups)."""
    map_ids = []
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
        elif name == "map_ids":
            map_ids = body.split()
        elif name == "bpftool_batch":
            if not _apply_batch(truth, body):
                truth["_batch_unusable"] = body.strip()[:2000]
        elif name in ("maps", "progs"):
            truth[name] = _bpftool_json(body)
        elif name == "map_dump":
            truth["map_dumps"][arg] = _bpftool_json(body)
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
    return map_ids


def collect(run_script, timeout: float) -> dict:
    """run_script(script, timeout) -> CommandResult runs a script in the guest."""

    def guest(args: str) -> str:
        res = run_script(f"sh /lab/truth.sh {args}", timeout)
        if res.rc != 0:
            raise LabError(f"truth.sh {args} failed in guest (rc={res.rc}): "
                           f"{res.stderr.decode(errors='replace')}")
        return res.stdout.decode(errors="replace")

    truth = {"release": None, "nr_cpus": None, "kallsyms": {}, "maps": [], "map_dumps": {},
             "progs": [], "sched_ext": {}, "tasks": [], "proc_stat_cpu": [], "pressure": {},
             "dmesg_scx": []}
    map_ids = _parse(guest(""), truth)
    # bpftool's batch mode stops at the first failing command: dump the rest in further batches.
    for _ in range(len(map_ids)):
        if "_batch_unusable" in truth:
            break
        missing = [i for i in map_ids if i not in truth["map_dumps"]]
        if not missing:
            break
        before = len(truth["map_dumps"])
        _parse(guest("dumps " + " ".join(missing)), truth)
        if len(truth["map_dumps"]) == before:
            break
    missing = [i for i in map_ids if i not in truth["map_dumps"]]
    if missing or "_batch_unusable" in truth:
        truth.pop("_batch_unusable", None)
        _parse(guest("each " + " ".join(missing)), truth)
    assert tuple(truth) == TRUTH_KEYS
    return truth
