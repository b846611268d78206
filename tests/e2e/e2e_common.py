"""What every e2e script shares: one failure type and its check, and proto3 JSON integers."""


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def u(v):
    """A proto3 JSON 64-bit integer (a string) or a ktstr JSON number; absent reads 0."""
    return int(v) if v is not None else 0
