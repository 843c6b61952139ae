"""The Job controller: pods that run to completion (run time from an annotation).
"""
from typing import Any, Dict

from twin.controllers.objects import (
    _epoch_of,
    _qos,
    controller_ref,
    owner_reference,
    pod_ready,
    pod_template,
    pod_terminal,
)
from twin.store import ApiError, iso

JOB_RUN_S = 10.0  # seconds a Job's container runs before it exits 0, unless annotated
RUN_ANNOTATION = "twin.self-healing.io/run-s"


class JobController:
    """The Job controller."""

    # ----------------------------------------------------------------- jobs
    def reconcile_jobs(self) -> None:
        """batch/v1 Jobs: keep min(parallelism, completions - succeeded) pods active; a pod
        that has run `twin.self-healing.io/run-s` seconds (default JOB_RUN_S) succeeds; the
        Job completes (condition Complete) when `completions` pods have succeeded."""
        jobs = self.store.list("jobs", copy=False)[0]
        now = self.now_fn()
        for job in jobs:
            try:
                self._reconcile_job(job, now)
            except ApiError:
                continue

    def _reconcile_job(self, job: Dict[str, Any], now: float) -> None:
        md, spec = job["metadata"], job.get("spec") or {}
        status = dict(job.get("status") or {})
        pods = [p for p in self.store.owned_by(md["uid"], "pods")
                if (controller_ref(p) or {}).get("uid") == md["uid"]]
        for p in pods:
            self._finish_job_pod(p, now)
        pods = [p for p in self.store.owned_by(md["uid"], "pods")
                if (controller_ref(p) or {}).get("uid") == md["uid"]]
        phase = lambda p: (p.get("status") or {}).get("phase", "Pending")  # noqa: E731
        succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
        failed = sum(1 for p in pods if phase(p) == "Failed")
        active = [p for p in pods if not pod_terminal(p)
                  and not p["metadata"].get("deletionTimestamp")]
        completions = int(spec.get("completions") or 1)
        parallelism = int(spec.get("parallelism", 1))
        done = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in status.get("conditions") or [])
        if not done and not spec.get("suspend"):
            for _ in range(max(0, min(parallelism, completions - succeeded) - len(active))):
                self._create_job_pod(job)
        stamp = iso(now)
        status.setdefault("startTime", stamp)
        status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if pod_ready(p)), "terminating": 0,
                       "uncountedTerminatedPods": {}})
        if succeeded >= completions and not done:
            status["completionTime"] = stamp
            status["conditions"] = (status.get("conditions") or []) + [
                {"type": "Complete", "status": "True", "lastProbeTime": stamp,
                 "lastTransitionTime": stamp}]
            self._event(job, "Completed", "Job completed", component="job-controller")
        for key in ("active", "succeeded", "failed"):
            if not status[key]:
                del status[key]
        if status != (job.get("status") or {}):
            self.store.mutate("jobs", md["namespace"], md["name"],
                              lambda o: o.__setitem__("status", status), copy_result=False)

    def _create_job_pod(self, job: Dict[str, Any]) -> None:
        md = job["metadata"]
        _template, tmd, spec = pod_template(job, restart_policy=None)
        pod = {"metadata": {"generateName": md["name"] + "-", "namespace": md["namespace"],
                            "labels": dict(tmd.get("labels") or {}),
                            "ownerReferences": [owner_reference(job, "batch/v1", "Job")]},
               "spec": spec, "status": {"phase": "Pending", "qosClass": _qos(spec)}}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmd["annotations"])
        self._create_owned_pod(job, pod, "job-controller")

    def _finish_job_pod(self, pod: Dict[str, Any], now: float) -> None:
        """The kubelet: a Job's running container exits 0 after its run time."""
        st = pod.get("status") or {}
        if st.get("phase") != "Running" or pod["metadata"].get("deletionTimestamp"):
            return
        try:
            run_s = float((pod["metadata"].get("annotations") or {}).get(
                RUN_ANNOTATION, JOB_RUN_S))
        except ValueError:
            run_s = JOB_RUN_S
        started = _epoch_of(st.get("startTime", "")) or now
        if now < started + run_s:
            return
        stamp = iso(now)

        def fn(obj: Dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["phase"] = "Succeeded"
            for cs in status.get("containerStatuses") or []:
                begun = ((cs.get("state") or {}).get("running") or {}).get("startedAt", stamp)
                cs["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                              "startedAt": begun, "finishedAt": stamp,
                                              "containerID": cs.get("containerID", "")}}
                cs["ready"] = False
                cs["started"] = False
            for c in status.get("conditions") or []:
                if c.get("type") in ("Ready", "ContainersReady"):
                    c.update({"status": "False", "reason": "PodCompleted",
                              "lastTransitionTime": stamp})
        md = pod["metadata"]
        self.store.mutate("pods", md["namespace"], md["name"], fn, copy_result=False)
