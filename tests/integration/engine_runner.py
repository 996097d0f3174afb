"""`winback worker …` for the durability tests, run as `python engine_runner.py [--after-go] WORKER-ARGS…`.

It imports everything first and prints `ready`, so a test can time its kill -9 from the moment the worker starts
working rather than from interpreter start-up; with `--after-go` it then waits for a line on stdin, so several
workers can be let go at once. The rest is the real CLI (`winback.cli.main.run`).
"""

from __future__ import annotations

import sys

from winback.cli.main import run

if __name__ == "__main__":
    args = sys.argv[1:]
    print("ready", flush=True)
    if args[:1] == ["--after-go"]:
        args = args[1:]
        sys.stdin.readline()
    sys.argv = ["winback", "worker", *args]
    run()
