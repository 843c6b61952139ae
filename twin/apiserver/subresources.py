"""Access reviews (SelfSubjectAccessReview and friends) and the subresources: pods/log,
pods/eviction, pods/binding, scale.
"""
from typing import Any, Dict, Tuple

from twin.apiserver.request import Request, _discovery_path, _dry_run, _flag, scale_of
from twin.store import ApiError, BadRequest


class Subresources:
    """Access reviews, log, eviction, binding and scale."""

    # ----------------------------------------------------------------- access reviews
    def _review(self, user: Tuple[str, bool], req: Request, body: Any) -> None:
        """authorization.k8s.io/v1 reviews answered by the twin's RBAC (never stored)."""
        if req.verb != "create":
            raise ApiError("the server does not allow this method on the requested resource",
                           code=405, reason="MethodNotAllowed")
        if not isinstance(body, dict):
            raise BadRequest("the request body must be an object")
        rt = req.rt
        spec = body.get("spec") or {}
        out = {"kind": rt.kind, "apiVersion": rt.api_version,
               "metadata": dict(body.get("metadata") or {}), "spec": spec}
        authz = self.api.authorizer
        name, admin = user
        if rt.plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
            name = spec.get("user") or ""
            if not name and not spec.get("groups"):
                raise ApiError('%s.authorization.k8s.io "" is invalid: spec.user: Invalid '
                               'value: "": at least one of user or group must be specified'
                               % rt.kind, code=422, reason="Invalid")
            admin = "system:masters" in (spec.get("groups") or []) or bool(
                authz and authz.is_admin(name))
        if rt.plural == "selfsubjectrulesreviews":
            ns = spec.get("namespace") or ""
            out["status"] = authz.rules_review(name, admin, ns) if authz else {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [], "incomplete": False}
            return self._send(201, out)
        attrs = spec.get("resourceAttributes")
        if attrs is None and spec.get("nonResourceAttributes") is None:
            raise ApiError('%s.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                           "Invalid value: \"null\": exactly one of nonResourceAttributes or "
                           "resourceAttributes must be specified" % rt.kind, code=422,
                           reason="Invalid")
        if attrs is not None:
            ns = attrs.get("namespace", "") if rt.plural != "localsubjectaccessreviews" \
                else req.namespace
            ok = authz is None or authz.check(
                name, admin, attrs.get("verb", ""), attrs.get("group", ""),
                attrs.get("resource", ""), attrs.get("subresource", ""), ns,
                attrs.get("name", ""))
        else:
            path = (spec.get("nonResourceAttributes") or {}).get("path", "")
            verb = (spec.get("nonResourceAttributes") or {}).get("verb", "")
            ok = admin or (verb == "get" and _discovery_path(path))
        out["status"] = {"allowed": bool(ok)}
        if ok and not admin:
            out["status"]["reason"] = 'RBAC: allowed for "%s"' % name
        self._send(201, out)

    # ----------------------------------------------------------------- subresources
    def _log(self, req: Request) -> None:
        q = req.query
        text = self.api.store.read_log(
            req.namespace, req.name, q.get("container") or None,
            _flag(q.get("previous")),
            int(q["tailLines"]) if q.get("tailLines") else None,
            int(q["limitBytes"]) if q.get("limitBytes") else None)
        self._send(200, text, "text/plain")

    def _evict(self, req: Request, body: Any) -> None:
        from twin import controllers
        dry = _dry_run(req) or bool(isinstance(body, dict) and "All" in (
            (body.get("deleteOptions") or {}).get("dryRun") or []))
        controllers.evict(self.api.store, req.namespace, req.name, dry_run=dry)
        self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "code": 201})

    def _bind(self, req: Request, body: Any) -> None:
        target = ((body or {}).get("target") or {}).get("name")
        if not target:
            raise BadRequest("binding target is required")
        from twin import controllers
        controllers.bind_pod(self.api.store, req.namespace, req.name, target)
        self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "code": 201})

    def _scale(self, method: str, req: Request, body: Any) -> None:
        store, plural = self.api.store, req.rt.plural
        obj = store.get(plural, req.namespace, req.name)
        if method == "GET":
            return self._send(200, scale_of(obj))
        current = scale_of(obj)
        if method == "PUT":
            new = body if isinstance(body, dict) else {}
        else:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            from twin import patches
            if "json-patch" in ctype:
                new = patches.json_patch(current, body)
            elif "strategic" in ctype:
                new = patches.strategic_merge_patch(current, body)
            else:
                new = patches.merge_patch(current, body)
        rv = (new.get("metadata") or {}).get("resourceVersion")
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError('Scale.autoscaling "%s" is invalid: spec.replicas: Invalid value: '
                           '%r: must be greater than or equal to 0' % (req.name, replicas),
                           code=422, reason="Invalid")
        patch_body: Dict[str, Any] = {"spec": {"replicas": replicas}}
        if rv:
            patch_body["metadata"] = {"resourceVersion": rv}
        updated = store.patch(plural, req.namespace, req.name, patch_body, "merge",
                              dry_run=_dry_run(req))
        self._send(200, scale_of(updated))
