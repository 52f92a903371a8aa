"""The command line of the differential scripts (``python -m tahoe_scripts``, with
``tools/`` on the path):

* ``random SEED KIND N_OPS [--schema 1|2]``: prints a deterministic pseudo-random script;
* ``run SCRIPT.json OUT``: replays it with Tahoe-LAFS 1.20; a container script writes the
  share file OUT and prints the outcomes as one JSON list, a server script runs over the
  storage directory OUT and prints one JSON result per line;
* ``dump FILE``: the JSON description of a share file as Tahoe's classes read it;
* ``compare DIR_A DIR_B``: the differences between two storage directories (exit 1 if any).

Malformed input exits with status 2 and a message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import KINDS, container, random_script, run, server


def _cmd_random(args: argparse.Namespace) -> int:
    print(json.dumps(random_script(args.seed, args.kind, args.n_ops, args.schema)))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    with open(args.script, encoding="utf-8") as f:
        script = json.load(f)
    results = run(script, args.out)
    if script.get("kind") == "server":
        for result in results:
            print(json.dumps(result))
    else:
        print(json.dumps(results))
    return 0


def _cmd_dump(args: argparse.Namespace) -> int:
    print(json.dumps(container.dump(args.file), indent=2))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    problems = server.tree_differences(server.snapshot(args.dir_a), server.snapshot(args.dir_b))
    for p in problems:
        print(p)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tahoe_scripts", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rand = commands.add_parser("random", help="print a random script")
    rand.add_argument("seed", type=int)
    rand.add_argument("kind", choices=KINDS)
    rand.add_argument("n_ops", type=int)
    rand.add_argument("--schema", type=int, choices=container.SCHEMAS, default=2)
    rand.set_defaults(run=_cmd_random)
    run_cmd = commands.add_parser("run", help="replay a script with Tahoe")
    run_cmd.add_argument("script")
    run_cmd.add_argument("out")
    run_cmd.set_defaults(run=_cmd_run)
    dump = commands.add_parser("dump", help="describe a share file as JSON")
    dump.add_argument("file")
    dump.set_defaults(run=_cmd_dump)
    compare = commands.add_parser("compare", help="compare two storage directories")
    compare.add_argument("dir_a")
    compare.add_argument("dir_b")
    compare.set_defaults(run=_cmd_compare)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as e:  # ScriptError, bad JSON or hex, no file
        print(f"tahoe_scripts: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
