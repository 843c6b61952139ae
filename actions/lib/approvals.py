"""Who is acting, and whether they may answer an approval (StackStorm's Inquiry rule)."""
from typing import Any, Callable, List, Optional, Sequence

# The `requester` parameter default of chat-facing actions: the chat user StackStorm puts in
# an alias execution's context (`api_user`), else the StackStorm user that ran the action.
REQUESTER_DEFAULT = "{{ action_context.get('api_user') or action_context.get('user') or '' }}"


def actor(requester: str, by: str) -> str:
    """The name recorded for an action: the context's requester wins over a claimed `by`."""
    requester, by = (requester or "").strip(), (by or "").strip()
    if requester and by and by != requester:
        return "%s (for %s)" % (requester, by)
    return requester or by


def refusal(user: str, users: Sequence[str], roles: Sequence[str],
            roles_of: Optional[Callable[[str], List[str]]] = None) -> str:
    """Why `user` may not approve ("" = allowed); same rule as StackStorm's Inquiry check.

    `roles_of(user)` lists the user's StackStorm roles; when roles are required and it cannot
    answer (None or raises) the answer is a refusal: an approval never fails open.
    """
    users, roles = [u for u in users if u], [r for r in roles if r]
    if not users and not roles:
        return ""
    if not user:
        return "the approver is unknown (no chat user in the execution context)"
    if users and user not in users:
        return "%s is not an approver (approvers: %s)" % (user, ", ".join(users))
    if roles:
        try:
            held = list(roles_of(user)) if roles_of is not None else None
        except Exception as error:  # the RBAC lookup failed: refuse, say why
            return "cannot read the StackStorm roles of %s: %s" % (user, error)
        if held is None:
            return "cannot read the StackStorm roles of %s" % user
        if not set(held) & set(roles):
            return "%s holds none of the approver roles (%s)" % (user, ", ".join(roles))
    return ""


def st2_roles_of(client: Any) -> Callable[[str], List[str]]:
    """A roles_of() backed by st2client's role assignments (StackStorm RBAC)."""
    def lookup(user: str) -> List[str]:
        manager = (getattr(client, "managers", None) or {}).get("UserRoleAssignment")
        if manager is None:
            raise LookupError("this StackStorm has no RBAC role assignment API")
        found = manager.query(user=user) or []
        return [str(getattr(item, "role", "")) for item in found]
    return lookup
