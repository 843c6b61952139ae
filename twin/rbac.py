"""Authentication (bearer tokens) and RBAC authorization like the real API server.

    authz = Authorizer.from_deploy_dir("deploy")          # ClusterRoles/Roles + bindings (YAML)
    sa_token = authz.add_token(SA_USER); admin_token = authz.add_token(ADMIN_USER, admin=True)
    authz.authorize(user, verb, group, resource, subresource, namespace, name) -> (ok, message)
    authz.usage_log()      # every request the SA made: verb, group, resource, subresource, ...
    authz.granted_rules()  # flat (group, "resource[/sub]", verb, resourceNames) of the SA's roles
    authz.used_permissions(), authz.unused_grants()  # for "nothing granted beyond what is used"

Only subjects bound to the ServiceAccount (ClusterRoleBinding / RoleBinding) count; when the
directory has no bindings, every ClusterRole found is treated as bound cluster-wide. Discovery
(/api, /apis, /version) is open to every authenticated user, as system:discovery does.
"""
import glob
import os
import secrets
import threading
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import yaml

SA_NAMESPACE = "self-healing"
SA_NAME = "self-healing"
SA_USER = "system:serviceaccount:%s:%s" % (SA_NAMESPACE, SA_NAME)
ADMIN_USER = "system:admin"

SELF_REVIEWS = frozenset({"selfsubjectaccessreviews", "selfsubjectrulesreviews"})
# system:discovery + system:public-info-viewer: every authenticated user may GET these.
DISCOVERY_URLS = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                  "/openapi/*", "/readyz", "/version", "/version/")

Grant = Tuple[str, str, str]  # (group, "resource" or "resource/sub", verb)


class Rule:
    """One PolicyRule, optionally limited to a namespace (Role or RoleBinding)."""

    def __init__(self, rule: Dict[str, Any], namespace: Optional[str] = None) -> None:
        self.groups = set(rule.get("apiGroups") or [])
        self.resources = set(rule.get("resources") or [])
        self.verbs = set(rule.get("verbs") or [])
        self.names = set(rule.get("resourceNames") or [])
        self.namespace = namespace

    def allows(self, verb: str, group: str, resource: str, subresource: str,
               namespace: str, name: str) -> bool:
        if self.namespace is not None and namespace != self.namespace:
            return False
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.groups and group not in self.groups:
            return False
        full = resource + "/" + subresource if subresource else resource
        if not ({"*", full} & self.resources or
                (subresource and "*/" + subresource in self.resources)):
            return False
        if self.names:
            return bool(name) and name in self.names
        return True

    def grants(self) -> List[Tuple[str, str, str, Tuple[str, ...]]]:
        names = tuple(sorted(self.names))
        return [(g, r, v, names) for g in sorted(self.groups) for r in sorted(self.resources)
                for v in sorted(self.verbs)]


def _docs(directory: str) -> Iterable[Dict[str, Any]]:
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.y*ml"), recursive=True)):
        with open(path) as fh:
            for doc in yaml.safe_load_all(fh):
                if isinstance(doc, dict):
                    if doc.get("kind") == "List":
                        for item in doc.get("items") or []:
                            yield item
                    else:
                        yield doc


def rules_for_subject(docs: List[Dict[str, Any]], sa_namespace: str = SA_NAMESPACE,
                      sa_name: str = SA_NAME) -> List[Rule]:
    """The rules that apply to a ServiceAccount, from parsed RBAC manifests."""
    roles = {(d["kind"], (d.get("metadata") or {}).get("namespace", ""),
              (d.get("metadata") or {}).get("name")): d
             for d in docs if d.get("kind") in ("ClusterRole", "Role")}
    bindings = [d for d in docs if d.get("kind") in ("ClusterRoleBinding", "RoleBinding")]
    out: List[Rule] = []
    if not bindings:
        for (kind, _ns, _name), role in roles.items():
            if kind == "ClusterRole":
                out.extend(Rule(r) for r in role.get("rules") or [])
        return out
    for b in bindings:
        subjects = b.get("subjects") or []
        bns = (b.get("metadata") or {}).get("namespace", "")
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa_name
                   and (s.get("namespace") or bns) == sa_namespace for s in subjects):
            continue
        ref = b.get("roleRef") or {}
        role_ns = bns if ref.get("kind") == "Role" else ""
        role = roles.get((ref.get("kind"), role_ns, ref.get("name")))
        if role is None:
            continue
        scope = bns if b["kind"] == "RoleBinding" else None
        if role["kind"] == "Role":
            scope = (role.get("metadata") or {}).get("namespace", bns)
        out.extend(Rule(r, scope) for r in role.get("rules") or [])
    return out


class Authorizer:
    """Tokens -> users; users -> allowed requests; a log of what the ServiceAccount did."""

    def __init__(self, rules: Optional[List[Rule]] = None, sa_user: str = SA_USER) -> None:
        self.rules: List[Rule] = rules or []
        self.sa_user = sa_user
        self._tokens: Dict[str, Tuple[str, bool]] = {}
        self._lock = threading.Lock()
        self._log: List[Dict[str, Any]] = []

    @classmethod
    def from_deploy_dir(cls, directory: str, sa_namespace: str = SA_NAMESPACE,
                        sa_name: str = SA_NAME) -> "Authorizer":
        docs = list(_docs(directory))
        user = "system:serviceaccount:%s:%s" % (sa_namespace, sa_name)
        return cls(rules_for_subject(docs, sa_namespace, sa_name), user)

    @classmethod
    def from_manifests(cls, docs: List[Dict[str, Any]]) -> "Authorizer":
        return cls(rules_for_subject(docs))

    def add_token(self, user: str, admin: bool = False, token: Optional[str] = None) -> str:
        """Register a bearer token for a user; admin users may do anything."""
        token = token or secrets.token_hex(24)
        self._tokens[token] = (user, admin)
        return token

    def authenticate(self, header: Optional[str]) -> Optional[Tuple[str, bool]]:
        """(user, is_admin) for an Authorization header, or None (401)."""
        if not header or not header.startswith("Bearer "):
            return None
        return self._tokens.get(header[len("Bearer "):].strip())

    def authorize(self, user: str, admin: bool, verb: str, group: str, resource: str,
                  subresource: str = "", namespace: str = "", name: str = ""
                  ) -> Tuple[bool, str]:
        """(allowed, forbidden message). Records the SA's requests."""
        if admin:
            return True, ""
        ok = any(r.allows(verb, group, resource, subresource, namespace, name)
                 for r in self.rules) if user == self.sa_user else False
        if user == self.sa_user:
            with self._lock:
                self._log.append({"verb": verb, "group": group, "resource": resource,
                                  "subresource": subresource, "namespace": namespace,
                                  "name": name, "allowed": ok})
        if ok:
            return True, ""
        full = resource + "/" + subresource if subresource else resource
        subject = '%s "%s"' % (resource, name) if name else resource
        where = ('in the namespace "%s"' % namespace) if namespace else "at the cluster scope"
        return False, ('%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s'
                       % (subject, user, verb, full, group, where))

    # ----------------------------------------------------------------- reviews
    def is_admin(self, user: str) -> bool:
        return any(u == user and admin for u, admin in self._tokens.values())

    def check(self, user: str, admin: bool, verb: str, group: str, resource: str,
              subresource: str = "", namespace: str = "", name: str = "") -> bool:
        """Would RBAC allow this (SubjectAccessReview)? Not recorded in the usage log."""
        if admin:
            return True
        if group == "authorization.k8s.io" and verb == "create" and resource in SELF_REVIEWS:
            return True  # system:basic-user
        return user == self.sa_user and any(
            r.allows(verb, group, resource, subresource, namespace, name) for r in self.rules)

    def rules_review(self, user: str, admin: bool, namespace: str) -> Dict[str, Any]:
        """SelfSubjectRulesReview status for a user in a namespace."""
        if admin:
            return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"],
                                       "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": False}
        rules = [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                  "resources": sorted(SELF_REVIEWS)}]
        if user == self.sa_user:
            for r in self.rules:
                if r.namespace is not None and r.namespace != namespace:
                    continue
                rule: Dict[str, Any] = {"verbs": sorted(r.verbs),
                                        "apiGroups": sorted(r.groups),
                                        "resources": sorted(r.resources)}
                if r.names:
                    rule["resourceNames"] = sorted(r.names)
                rules.append(rule)
        return {"resourceRules": rules,
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": list(
                    DISCOVERY_URLS)}],
                "incomplete": False}

    # ----------------------------------------------------------------- evidence
    def usage_log(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def clear_usage(self) -> None:
        with self._lock:
            self._log = []

    def granted_rules(self) -> List[Tuple[str, str, str, Tuple[str, ...]]]:
        out: List[Tuple[str, str, str, Tuple[str, ...]]] = []
        for r in self.rules:
            out.extend(r.grants())
        return sorted(set(out))

    def used_permissions(self) -> Set[Grant]:
        """(group, resource[/sub], verb) the SA used and was allowed."""
        return {(e["group"], e["resource"] + ("/" + e["subresource"] if e["subresource"]
                                              else ""), e["verb"])
                for e in self.usage_log() if e["allowed"]}

    def denied(self) -> List[Dict[str, Any]]:
        return [e for e in self.usage_log() if not e["allowed"]]

    def unused_grants(self) -> Set[Grant]:
        """Granted (group, resource, verb) triples never used (wildcards count as unused)."""
        used = self.used_permissions()
        return {(g, r, v) for g, r, v, _names in self.granted_rules()} - used
