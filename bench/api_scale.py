"""Scale benchmark for the twin's API (not a test): 5,000 nodes and 150,000 pods.

    python -m bench.api_scale [--nodes 5000] [--pods 150000]

Prints: load time and memory, list-by-node latency through the official client, a full pod
list, watch delivery latency, and one controller step at full scale.
"""
import argparse
import gc
import resource
import statistics
import tempfile
import threading
import time
from typing import Any, Dict, List

from kubernetes import client, config, watch

from twin.apiserver import ServedApi
from twin.controllers import Controllers
from twin.store import Store


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _node(i: int) -> Dict[str, Any]:
    name = "node-%05d" % i
    return {"metadata": {"name": name, "labels": {"node-pool": "pool-%d" % (i % 10),
                                                  "kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "allocatable": {"cpu": "31", "memory": "120Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True",
                                       "reason": "KubeletReady"}]}}


def _pod(i: int, nodes: int) -> Dict[str, Any]:
    app = "svc-%03d" % (i % 500)
    node = "node-%05d" % (i % nodes)
    return {"metadata": {"name": "%s-%06d" % (app, i), "namespace": "ns-%02d" % (i % 50),
                         "labels": {"app": app, "pod-template-hash": "abc12"}},
            "spec": {"nodeName": node, "containers": [{
                "name": app, "image": "registry.local/%s:v1" % app,
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"memory": "512Mi"}}}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.1.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": app, "ready": True, "restartCount": 0,
                                              "image": "registry.local/%s:v1" % app,
                                              "imageID": "", "state": {"running": {}}}]}}


def _timed(fn: Any, repeat: int) -> List[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def _controller_scale(nodes: int, pods: int) -> None:
    """Pods made by Deployments/ReplicaSets (500 services), bound round-robin like the world's
    scale setup; then the cost of controller steps."""
    from twin.controllers import bind_pod
    store = Store(seed=2)
    for i in range(nodes):
        store.create("nodes", _node(i))
    services = 500
    per = pods // services
    for i in range(services):
        app = "svc-%03d" % i
        store.create("deployments", {
            "metadata": {"name": app, "namespace": "ns-%02d" % (i % 50)},
            "spec": {"replicas": per, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}}, "spec": {
                         "containers": [{"name": app, "image": "registry.local/%s:v1" % app,
                                         "resources": {"requests": {"cpu": "100m",
                                                                    "memory": "256Mi"}}}]}}}})
    ctl = Controllers(store, emit_events=False)
    t0 = time.perf_counter()
    gc.disable()
    ctl.reconcile_deployments()
    ctl.reconcile_replicasets()
    names = ["node-%05d" % i for i in range(nodes)]
    for n, pod in enumerate(sorted(store.pods_on_node(""), key=lambda p: p["metadata"]["name"])):
        bind_pod(store, pod["metadata"]["namespace"], pod["metadata"]["name"], names[n % nodes])
    gc.freeze()
    gc.enable()
    print("controllers: %d deployments -> %d pods created and bound in %.1f s"
          % (services, store.count("pods"), time.perf_counter() - t0))
    for label in ("first step (full pass, starts every pod)", "second step (nothing changed)",
                  "third step (nothing changed)"):
        t0 = time.perf_counter()
        ctl.step()
        print("controller %s: %.0f ms" % (label, (time.perf_counter() - t0) * 1000))
    def unready(pod: Dict[str, Any]) -> None:
        for c in pod["status"]["conditions"]:
            if c["type"] == "Ready":
                c["status"] = "False"

    for p in store.list("pods", namespace="ns-03", copy=False)[0][:1000]:
        store.mutate("pods", p["metadata"]["namespace"], p["metadata"]["name"], unready)
    t0 = time.perf_counter()
    ctl.step()
    print("controller step after 1,000 pods turned unready: %.0f ms"
          % ((time.perf_counter() - t0) * 1000))
    ctl.full_resync_steps = 1
    t0 = time.perf_counter()
    ctl.step()
    print("controller step forced full resync: %.0f ms" % ((time.perf_counter() - t0) * 1000))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=150000)
    args = ap.parse_args()

    store = Store(seed=1)
    t0 = time.perf_counter()
    gc.disable()  # the cyclic GC rescans the growing heap during bulk loads (2x slower)
    for i in range(args.nodes):
        store.create("nodes", _node(i), copy_result=False)
    for i in range(args.pods):
        store.create("pods", _pod(i, args.nodes), copy_result=False)
    gc.freeze()
    gc.enable()
    load_s = time.perf_counter() - t0
    print("load: %d nodes + %d pods in %.1f s (%.0f objects/s); peak RSS %.0f MiB"
          % (args.nodes, args.pods, load_s, (args.nodes + args.pods) / load_s, _rss_mb()))

    workdir = tempfile.mkdtemp(prefix="twin-bench-")
    api = ServedApi.start(store, workdir)
    core = client.CoreV1Api(config.new_client_from_config(api.kubeconfigs["admin"]))

    names = ["node-%05d" % (i * 997 % args.nodes) for i in range(50)]
    it = iter(names * 2)
    lat = _timed(lambda: core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=%s" % next(it)), 50)
    print("list pods by node (field selector, official client): median %.1f ms, p95 %.1f ms"
          % (statistics.median(lat), sorted(lat)[int(len(lat) * 0.95) - 1]))
    it = iter(names * 2)
    lat = _timed(lambda: core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=%s" % next(it), _preload_content=False).data, 50)
    print("list pods by node, raw JSON (server + HTTP only): median %.1f ms, p95 %.1f ms"
          % (statistics.median(lat), sorted(lat)[int(len(lat) * 0.95) - 1]))
    lat = _timed(lambda: core.list_namespaced_pod("ns-07", label_selector="app=svc-007"), 20)
    print("list pods by namespace+label: median %.1f ms" % statistics.median(lat))
    lat = _timed(lambda: core.list_node(), 3)
    print("list all %d nodes (client, deserialized): median %.0f ms"
          % (args.nodes, statistics.median(lat)))
    lat = _timed(lambda: core.list_pod_for_all_namespaces(_preload_content=False).data, 2)
    print("list all %d pods (raw JSON over HTTP): median %.0f ms"
          % (args.pods, statistics.median(lat)))

    # watch: one node's pods; measure delivery latency of status changes
    got: List[float] = []
    ready = threading.Event()
    rv = store.resource_version
    target = "node-00042"
    sent: Dict[str, float] = {}

    def consume() -> None:
        w = watch.Watch()
        ready.set()
        for ev in w.stream(core.list_pod_for_all_namespaces, resource_version=rv,
                           field_selector="spec.nodeName=%s" % target, timeout_seconds=10):
            name = ev["object"].metadata.name
            if name in sent:
                got.append((time.perf_counter() - sent[name]) * 1000.0)
            if len(got) >= 20:
                w.stop()

    th = threading.Thread(target=consume)
    th.start()
    ready.wait()
    time.sleep(0.3)
    pods = store.pods_on_node(target)[:20]
    for p in pods:
        md = p["metadata"]
        sent[md["name"]] = time.perf_counter()
        store.mutate("pods", md["namespace"], md["name"],
                     lambda o: o["status"].__setitem__("phase", "Failed"))
    th.join(15)
    print("watch (node field selector) delivery: %d events, median %.1f ms, max %.1f ms"
          % (len(got), statistics.median(got) if got else -1, max(got) if got else -1))
    t0 = time.perf_counter()
    for p in store.list("pods", namespace="ns-03", copy=False)[0][:2000]:
        md = p["metadata"]
        store.mutate("pods", md["namespace"], md["name"],
                     lambda o: o["metadata"].setdefault("annotations", {}).__setitem__("x", "1"))
    print("mutate 2,000 pods with 1 watcher open: %.0f ms (%.0f us each)"
          % ((time.perf_counter() - t0) * 1000, (time.perf_counter() - t0) * 1e6 / 2000))

    ctl = Controllers(store, emit_events=False)
    t0 = time.perf_counter()
    ctl.step()
    print("one controller step, %d loose pods (no ReplicaSets): %.0f ms"
          % (args.pods, (time.perf_counter() - t0) * 1000))
    api.stop()
    _controller_scale(args.nodes, args.pods)
    print("peak RSS %.0f MiB" % _rss_mb())


if __name__ == "__main__":
    main()
