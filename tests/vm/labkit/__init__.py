"""kfreeze real-guest lab: fetch a sched_ext kernel, boot it under QEMU with shared RAM, run scenarios.

The command-line entry point is tests/vm/lab; tests/vm/labclient.py wraps it for tests.
"""
