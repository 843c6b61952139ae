"""`python -m twin --scenario NAME_OR_FILE`: run the twin until Ctrl-C.

Prints the kubeconfig paths, the Prometheus URL (fault proxy) and the NATS URL, then advances
the virtual clock by one step every `--step-every` real seconds (default 1.0) until interrupted
or, with `--stop-at-end`, until the scenario's end. With `--realtime` virtual time is wall-clock
time (the onset comes `lead` after start), so a pack running on real time can watch the twin.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time

from twin.clock import iso
from twin.scenario import list_scenarios
from twin.world import World


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twin", description=__doc__)
    parser.add_argument("--scenario", default="seed-0317-memory-leak",
                        help="scenario name (scenarios/<name>.yaml) or a YAML file path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step-every", type=float, default=1.0,
                        help="real seconds between virtual steps (0 = as fast as possible)")
    parser.add_argument("--stop-at-end", action="store_true",
                        help="exit when the scenario's duration has elapsed")
    parser.add_argument("--realtime", action="store_true",
                        help="virtual time = wall-clock time (for a pack on real time)")
    parser.add_argument("--workdir", default=None, help="keep files here (default: temp dir)")
    parser.add_argument("--no-tls", dest="tls", action="store_false",
                        help="serve the API over plain HTTP (kubectl then refuses tokens)")
    parser.add_argument("--list", action="store_true", help="list shipped scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(list_scenarios()))
        return 0
    world = World.from_scenario(args.scenario, seed=args.seed, workdir=args.workdir,
                                realtime=args.realtime, tls=args.tls)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    world.start()
    try:
        print(f"scenario:          {world.scenario.name}")
        print(f"kubeconfig (pack): {world.kubeconfig_path}")
        print(f"kubeconfig admin:  {world.admin_kubeconfig_path}")
        print(f"api server:        {world.api_url}")
        print(f"kubectl:           KUBECONFIG={world.admin_kubeconfig_path} kubectl get nodes")
        print(f"prometheus:        {world.prometheus_url}  (direct {world.prometheus_direct_url})")
        print(f"nats:              {world.nats_url}")
        print(f"virtual now:       {iso(world.clock.now())}  onset {iso(world.onset_epoch)}  "
              f"end {iso(world.end_epoch)}")
        sys.stdout.flush()
        while not stopping:
            if args.stop_at_end and world.finished:
                break
            before = world.steps
            if args.realtime:
                world.run_until(time.time())
            else:
                world.step()
            if world.steps != before and world.steps % 20 == 0:
                print(f"{iso(world.clock.now())} key metric "
                      f"{world.key_metric_value():.2f}", flush=True)
            if args.realtime:
                time.sleep(0.5)
            elif args.step_every > 0:
                time.sleep(args.step_every)
    except KeyboardInterrupt:
        pass
    finally:
        world.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
