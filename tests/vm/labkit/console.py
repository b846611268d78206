"""Reads a guest's serial console log while it boots and classifies what it sees."""

import re
from pathlib import Path

INIT_MARK = "KFREEZE-INIT"
READY_MARK = "KFREEZE-SCENARIO-READY"
EXIT_RE = re.compile(r"KFREEZE-SCENARIO-EXIT rc=(\d+)")
# Early-boot deaths worth a retry; the known flake is "Oops: int3" in sched_clock_cpu under TCG.
FLAKE_MARK = "Oops: int3"
PANIC_RE = re.compile(r"Kernel panic - not syncing|Oops: |BUG: kernel NULL|general protection fault")


class ConsoleWatch:
    def __init__(self, path: Path):
        self.path = path
        self.text = ""

    def poll(self) -> str:
        try:
            self.text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            pass
        return self.text

    def reached_init(self) -> bool:
        return INIT_MARK in self.text

    def ready(self) -> bool:
        return READY_MARK in self.text

    def scenario_exit(self):
        m = EXIT_RE.search(self.text)
        return int(m.group(1)) if m else None

    def panic_line(self):
        for line in self.text.splitlines():
            if PANIC_RE.search(line):
                return line.strip()
        return None

    def known_flake(self) -> bool:
        return FLAKE_MARK in self.text

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text.splitlines()[-lines:])
