"""Scale a node pool by `delta` nodes with playbooks/scale_node_pool.yml (ansible-runner).

Providers: cluster_api (default; a MachineDeployment scaled through the API server of the
pack's kubeconfig), gke, eks, aks (their Ansible collections; see the playbook).
"""
from lib import ansible_run
from lib.base_action import ActionInputError, SelfHealingAction, mutation_result, require
from lib.k8s_events import record_event

PROVIDERS = ("cluster_api", "gke", "eks", "aks")


class ScaleNodePool(SelfHealingAction):
    def execute(self, pool: str = "", delta: int = 1, provider: str = "cluster_api",
                namespace: str = "default", min_size: int = 1, max_size: int = 0,
                cluster: str = "", region: str = "", project: str = "",
                resource_group: str = "", timeout_s: int = 300, incident_id: str = "",
                dry_run: bool = False):
        require(pool, "pool")
        if provider not in PROVIDERS:
            raise ActionInputError("provider: must be one of %s" % ", ".join(PROVIDERS))
        if int(delta) == 0:
            raise ActionInputError("delta: must not be 0")
        extravars = {"provider": provider, "pool": pool, "delta": int(delta),
                     "namespace": namespace, "min_size": int(min_size),
                     "max_size": int(max_size), "incident_id": incident_id,
                     "kubeconfig": self.settings.kubernetes.kubeconfig,
                     "cluster": cluster, "region": region, "project": project,
                     "resource_group": resource_group}
        if provider == "cluster_api":
            extravars.update(ansible_run.kube_connection(self.kube.api))
        run = ansible_run.run_playbook("scale_node_pool.yml", extravars, check=dry_run,
                                       timeout_s=int(timeout_s))
        outcome = dict(run["data"].get("scale_result") or {})
        changed = _truthy(outcome.get("changed"))
        previous = _int(outcome.get("previous_replicas"))
        replicas = _int(outcome.get("replicas"))
        failed = run["status"] != "successful"
        if failed:
            would = "scale node pool %s by %+d (%s): the playbook %s" % (
                pool, int(delta), provider, run["status"])
        elif dry_run:
            would = "scale node pool %s (%s) from %s to %s nodes" % (
                pool, provider, previous, replicas)
        elif changed:
            would = "scaled node pool %s (%s) from %s to %s nodes" % (
                pool, provider, previous, replicas)
        else:
            would = "nothing: node pool %s stays at %s nodes%s" % (
                pool, replicas, " (already scaled for this incident)" if _truthy(
                    outcome.get("already_scaled_for_incident")) else "")
        if changed and not dry_run and provider == "cluster_api":
            record_event(self.kube, "MachineDeployment", namespace, pool, "NodePoolScaled",
                         "self-healing: %s" % would, incident_id)
        result = mutation_result(
            changed, dry_run, would, pool=pool, provider=provider, namespace=namespace,
            delta=int(delta), previous_replicas=previous, replicas=replicas,
            incident_id=incident_id, status=run["status"], rc=run["rc"],
            stats=run["stats"], events=run["events"],
            revert={"action": "self_healing.scale_node_pool", "parameters": {
                "pool": pool, "delta": -int(delta), "provider": provider,
                "namespace": namespace}} if changed else None)
        if failed:
            failures = [e for e in run["events"]
                        if e["event"] in ("failed", "unreachable", "error")]
            result["error"] = "scale_node_pool playbook %s (rc %s)%s" % (
                run["status"], run["rc"], ": " + failures[-1]["msg"] if failures else "")
            return False, result
        return result


def _truthy(value) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
