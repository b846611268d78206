#!/usr/bin/python3
"""kfreezed driven by a third-party client: `buf curl` (npm @bufbuild/buf) over the unix socket.

Against a scx-running lab guest: the services are listed through server reflection (v1alpha from
gRPC 1.51's plugin, v1 from server/daemon/reflection_v1, each alone too), the health service
answers SERVING, Freeze is called with a JSON body and its JSON reply holds a `single` report with
the caller's labels, and GetDump returns the same dump.

Usage: server_buf_e2e.py --kfreezed ... --kfreeze ... --npm-prefix BUILD/npm
  (installs @bufbuild/buf there with `npm install --prefix` when it is missing)
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from e2e_common import arg_parser, check, labclient, outcome
from server_support import Daemon, buf_curl, ensure_buf

FREEZE_METHODS = ("Freeze", "WatchDumps", "GetDump", "ListDumps", "ListTargets", "AttachTarget",
                  "DetachTarget", "GetTarget", "GetInfo")


def main():
    ap = arg_parser(__doc__, "e2e-server-buf", "kfreezed", "kfreeze")
    ap.add_argument("--npm-prefix", required=True, help="where npm installs @bufbuild/buf")
    args = ap.parse_args()
    return outcome(lambda: run(args))


def run(args):
    buf = ensure_buf(Path(args.npm_prefix))
    print(subprocess.run([str(buf), "--version"], capture_output=True, text=True).stdout.strip(), flush=True)

    with labclient.guest(args.name, "scx-running") as g, tempfile.TemporaryDirectory(prefix="kfd-buf-") as tmp:
        with Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=vm,ram={g.ram},qmp={g.qmp}"]) as d:
            state = {}

            def curl(*extra, url="http://localhost"):
                return buf_curl(buf, d.sock, *extra, url=url)

            def lists_freeze_methods(*reflect):
                methods = curl(*reflect, "--list-methods").split()
                for m in FREEZE_METHODS:
                    check(f"kfreeze.v1.FreezeService/{m}" in methods, f"method {m} missing: {methods}")

            def reflection_lists_services():
                services = curl("--list-services").split()
                for s in ("kfreeze.v1.FreezeService", "grpc.health.v1.Health",
                          "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"):
                    check(s in services, f"{s} not listed by reflection: {services}")
                lists_freeze_methods()

            def reflection_v1_only():
                # buf tries v1 and falls back to v1alpha; pinned to v1 there is no fallback. The URL
                # stays a base URL: buf reads a service name in it as a path prefix.
                v1 = ("--reflect-protocol", "grpc-v1")
                lists_freeze_methods(*v1)
                health_serving(*v1)

            def lists_methods_under_the_service_url():
                # buf reads the service name as a path prefix and asks reflection under it
                # (server/daemon/prefixed_reflection.h answers there), in v1 and in v1alpha.
                for reflect in ((), ("--reflect-protocol", "grpc-v1alpha")):
                    methods = curl(*reflect, "--list-methods",
                                   url="http://localhost/kfreeze.v1.FreezeService").split()
                    for m in FREEZE_METHODS:
                        check(f"kfreeze.v1.FreezeService/{m}" in methods, f"{reflect}: {m} missing: {methods}")

            def health_serving(*reflect):
                out = json.loads(curl(*reflect, "-d", '{"service": "kfreeze.v1.FreezeService"}',
                                      url="http://localhost/grpc.health.v1.Health/Check"))
                check(out.get("status") == "SERVING", f"health {reflect}: {out}")

            def freeze_with_json_body():
                d.wait_attached("vm")
                body = json.dumps({"target": "vm", "deadlineMs": 3000, "labels": {"client": "buf"}})
                out = json.loads(curl("-d", body, url="http://localhost/kfreeze.v1.FreezeService/Freeze"))
                check(out.get("dumpId"), f"no dumpId in {list(out)}")
                env = out["envelope"]
                check("single" in env, f"report is not single: {list(env)}")
                check(env["single"].get("schema") == "single", "schema field")
                check(env.get("labels", {}).get("client") == "buf", f"labels {env.get('labels')}")
                check(env.get("deadlineMs") == "3000", f"deadlineMs {env.get('deadlineMs')!r}")
                state["id"] = out["dumpId"]

            def get_dump_matches():
                out = json.loads(curl("-d", json.dumps({"dumpId": state["id"]}),
                                      url="http://localhost/kfreeze.v1.FreezeService/GetDump"))
                check(out["envelope"]["dumpId"] == state["id"], "GetDump returned another dump")

            return d.run_checks([
                ("reflection lists the services and methods", reflection_lists_services),
                ("reflection v1 alone lists the methods and describes health", reflection_v1_only),
                ("--list-methods with the service's URL", lists_methods_under_the_service_url),
                ("health service answers SERVING", health_serving),
                ("Freeze with a JSON body returns a JSON single report", freeze_with_json_body),
                ("GetDump returns the same dump", get_dump_matches),
            ])


if __name__ == "__main__":
    sys.exit(main())
