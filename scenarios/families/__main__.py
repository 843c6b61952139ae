"""python -m scenarios.families [--count N] [--seed S] [--family F ...] [--out DIR] [--list]"""
import argparse
import os
import sys
from typing import List, Optional

import yaml

from scenarios.families import FAMILIES, corpus


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="generate twin scenarios from families")
    parser.add_argument("--count", type=int, default=len(FAMILIES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", nargs="*", default=[])
    parser.add_argument("--out", default=os.path.join("build", "scenarios"))
    parser.add_argument("--list", action="store_true", help="list the families")
    args = parser.parse_args(argv)
    if args.list:
        for name in sorted(FAMILIES):
            print("%-28s %s" % (name, (FAMILIES[name].__doc__ or "").split("\n")[0]))
        return 0
    os.makedirs(args.out, exist_ok=True)
    for raw in corpus(args.count, args.seed, tuple(args.family)):
        path = os.path.join(args.out, raw["name"] + ".yaml")
        with open(path, "w") as handle:
            yaml.safe_dump(raw, handle, sort_keys=False, width=100)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
