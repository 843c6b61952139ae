"""The kubelet model: per-pod container state (PodState), container start, termination
(OOMKill, CrashLoopBackOff back-off), pod Events and logs, and pod status written back.
"""
from __future__ import annotations

import zlib
from typing import Any, Dict, Optional

from twin.clock import iso
from twin.controllers import record_event
from twin.quantities import parse_quantity
from twin.model.signals import _unit_noise

BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0


class PodState:
    """What the kubelet knows about one pod's main container."""

    __slots__ = ("uid", "namespace", "name", "service", "container", "version", "node",
                 "created", "state", "container_start", "ready", "restarts", "streak",
                 "waiting_until", "last_term", "leak", "jitter", "cpu_s", "periods",
                 "throttled", "disk_bytes", "leaked_conns", "mem", "cpu_usage", "throttle",
                 "dirty", "logged_at", "container_id", "keys", "keys_node", "noise_seed",
                 "baseline")

    def __init__(self, pod: Dict[str, Any], service: str, container: str, version: str,
                 jitter: float) -> None:
        md = pod["metadata"]
        self.uid = md["uid"]
        self.namespace = md["namespace"]
        self.name = md["name"]
        self.service = service
        self.container = container
        self.version = version
        self.node = pod["spec"].get("nodeName", "")
        self.created = 0.0
        self.state = "new"
        self.container_start = 0.0
        self.ready = False
        self.restarts = 0
        self.streak = 0
        self.waiting_until = 0.0
        self.last_term: Optional[Dict[str, Any]] = None
        self.leak = 0.0
        self.jitter = jitter
        self.cpu_s = 0.0
        self.periods = 0.0
        self.throttled = 0.0
        self.disk_bytes = 0.0
        self.leaked_conns = 0.0
        self.mem = 0.0
        self.cpu_usage = 0.0
        self.throttle = 0.0
        self.dirty = True
        self.logged_at = 0.0
        self.container_id = ""
        self.keys: Dict[str, Any] = {}
        self.keys_node = None
        self.noise_seed = md["name"].encode()
        self.baseline = 0.0  # working set of a workload the scenario does not describe


class KubeletModel:
    """Containers advanced per pod; status flushed to the store."""

    # ------------------------------------------------------------------ kubelet
    def _track(self, pod: Dict[str, Any], now: float) -> Optional[PodState]:
        md = pod["metadata"]
        st = self.pods.get(md["uid"])
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return None
        if st is None:
            containers = pod["spec"].get("containers") or [{}]
            main = containers[0]
            image = main.get("image", "")
            version = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
            service = (md.get("labels") or {}).get("app") or md["name"].rsplit("-", 2)[0]
            jitter = 1.0 + (2 * _unit_noise(self.seed, md["name"]) - 1) * \
                self.profile(service, version)["memory"]["jitter"]
            st = PodState(pod, service, main.get("name", service), version, jitter)
            if service not in self.services:  # e.g. a DaemonSet or static pod: its request
                st.baseline = parse_quantity(((main.get("resources") or {}).get(
                    "requests") or {}).get("memory"))
            st.created = now
            self.pods[st.uid] = st
        st.node = pod["spec"].get("nodeName", "") or ""
        return st

    def _start_container(self, st: PodState, at: float) -> None:
        st.state = "running"
        st.container_start = at
        st.ready = False
        st.leak = 0.0
        st.leaked_conns = 0.0
        st.container_id = "containerd://%016x%016x" % (
            zlib.crc32(f"{st.uid}{st.restarts}".encode()), zlib.crc32(st.name.encode()))
        st.dirty = True
        self.store_log(st, f"{iso(at)} INFO starting {st.service} {st.version}")

    def _terminate(self, st: PodState, at: float, reason: str, exit_code: int,
                   message: str = "") -> None:
        if message:
            self.store_log(st, message)
        st.last_term = {"reason": reason, "exitCode": exit_code,
                        "startedAt": iso(st.container_start), "finishedAt": iso(at),
                        "containerID": st.container_id}
        st.restarts += 1
        if at - st.container_start >= BACKOFF_RESET_S:
            st.streak = 0
        st.streak += 1
        delay = 0.0 if st.streak == 1 else min(BACKOFF_MAX_S, 10.0 * 2 ** (st.streak - 2))
        st.state = "waiting"
        st.ready = False
        st.waiting_until = at + delay
        st.dirty = True
        if reason == "OOMKilled":
            self._pod_event(st, "OOMKilled", f"Container {st.container} was OOM-killed "
                            f"(exit code 137)", "Warning", at)
        if delay > 0:
            self._pod_event(st, "BackOff", f"Back-off restarting failed container "
                            f"{st.container} in pod {st.name}_{st.namespace}({st.uid})",
                            "Warning", at)
        try:
            self.store.rotate_log(st.namespace, st.name, st.container)
        except Exception:  # noqa: BLE001 - the pod may have been deleted meanwhile
            pass

    def _advance_container(self, st: PodState, pod: Dict[str, Any], now: float) -> None:
        profile = self.profile(st.service, st.version)
        if st.state == "new":
            self._start_container(st, now)
        for _ in range(12):
            if st.state == "waiting" and st.waiting_until <= now:
                self._start_container(st, max(st.waiting_until, now - 15.0))
                continue
            crash = profile["crash"]
            if st.state == "running" and crash and \
                    (crash["times"] is None or st.restarts < crash["times"]) and \
                    now >= st.container_start + crash["after"]:
                self._terminate(st, st.container_start + crash["after"], crash["reason"],
                                crash["exit_code"], crash["log"])
                continue
            break
        if st.state == "running" and not st.ready and \
                now >= st.container_start + profile["startup"]:
            st.ready = True
            st.dirty = True

    def _pod_event(self, st: PodState, reason: str, message: str, etype: str,
                   at: float) -> None:
        """A kubelet Event about the pod (skipped in lean scale worlds)."""
        if self.lean:
            return
        try:
            pod = self.store.get_entry("pods", st.namespace, st.name).obj
            record_event(self.store, pod, reason, message, etype, "kubelet", at)
        except Exception:  # noqa: BLE001 - pod deleted meanwhile
            pass

    def store_log(self, st: PodState, text: str) -> None:
        try:
            self.store.append_log(st.namespace, st.name, text + "\n", container=st.container)
        except Exception:  # noqa: BLE001 - pod deleted between list and log
            pass

    def _flush_status(self, now: float) -> None:
        for st in self.pods.values():
            if not st.dirty:
                continue
            if not st.node or st.state == "new":
                continue  # unscheduled or not started: the scheduler owns the status (Pending)
            st.dirty = False
            try:
                self.store.mutate("pods", st.namespace, st.name,
                                  lambda obj, st=st: self._write_pod_status(obj, st, now))
            except Exception:  # noqa: BLE001 - deleted meanwhile
                continue

    def _write_pod_status(self, pod: Dict[str, Any], st: PodState, now: float) -> None:
        status = pod.setdefault("status", {})
        spec = pod.get("spec") or {}
        main = (spec.get("containers") or [{}])[0]
        stamp = iso(now)
        if st.state == "running":
            state = {"running": {"startedAt": iso(st.container_start)}}
        else:
            backoff = max(0, int(st.waiting_until - st.container_start))
            state = {"waiting": {"reason": "CrashLoopBackOff",
                                 "message": f"back-off {backoff}s restarting failed container"
                                            f"={st.container} pod={st.name}_{st.namespace}"
                                            f"({st.uid})"}}
        cstatus = {"name": st.container, "image": main.get("image", ""),
                   "imageID": main.get("image", "") + "@sha256:" + "%08x" % zlib.crc32(
                       main.get("image", "").encode()) * 8,
                   "containerID": st.container_id, "ready": st.ready,
                   "started": st.state == "running", "restartCount": st.restarts,
                   "state": state,
                   "lastState": {"terminated": dict(st.last_term)} if st.last_term else {}}
        extra = [{"name": c.get("name"), "image": c.get("image", ""), "ready": True,
                  "started": True, "restartCount": 0, "lastState": {},
                  "state": {"running": {"startedAt": iso(st.created)}}}
                 for c in (spec.get("containers") or [])[1:]]
        ready = "True" if st.ready else "False"

        def cond(kind: str, value: str) -> Dict[str, Any]:
            for old in status.get("conditions") or []:
                if old.get("type") == kind and old.get("status") == value:
                    return old
            return {"type": kind, "status": value, "lastProbeTime": None,
                    "lastTransitionTime": stamp}

        status.update({
            "phase": "Running",
            "hostIP": "10.128.0.%d" % (zlib.crc32(st.node.encode()) % 250 + 2),
            "podIP": "10.%d.%d.%d" % (8 + zlib.crc32(st.node.encode()) % 8,
                                      zlib.crc32(st.uid.encode()) % 250,
                                      zlib.crc32(st.name.encode()) % 250 + 2),
            "startTime": status.get("startTime") or iso(st.created),
            "qosClass": status.get("qosClass") or _qos(main),
            "conditions": [cond("Initialized", "True"), cond("Ready", ready),
                           cond("ContainersReady", ready), cond("PodScheduled", "True")],
            "containerStatuses": [cstatus] + extra,
        })


def _qos(container: Dict[str, Any]) -> str:
    res = container.get("resources") or {}
    if res.get("limits") and res.get("limits") == res.get("requests"):
        return "Guaranteed"
    return "Burstable" if res else "BestEffort"
