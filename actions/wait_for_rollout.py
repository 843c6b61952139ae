"""Wait until a Deployment's rollout completes (or fails / times out), like rollout status."""
from lib import clock, deadline as deadlines, k8s_workloads
from lib.base_action import SelfHealingAction, require


class WaitForRollout(SelfHealingAction):
    def execute(self, namespace: str = "", deployment: str = "", timeout_s: float = 600,
                poll_s: float = 5, deadline: float = 0):
        require(namespace, "namespace")
        require(deployment, "deployment")
        timeout_s = deadlines.capped_timeout(float(timeout_s), deadline, clock.now())
        result = k8s_workloads.wait_rollout(self.kube, namespace, deployment, float(timeout_s),
                                            float(poll_s))
        if not result["complete"]:
            result["error"] = "rollout of %s/%s %s" % (
                namespace, deployment, "failed (progress deadline exceeded)"
                if result["failed"] else "not complete after %ss" % timeout_s)
            return False, result
        return result
