"""Links from chat messages to StackStorm executions (st2web history pages)."""
import os
from typing import Any, Optional

MAX_PARENT_HOPS = 8


def client_from_environment() -> Optional[Any]:
    """st2client bound to the API URL and token StackStorm exports to actions, or None."""
    url = os.environ.get("ST2_ACTION_API_URL") or os.environ.get("ST2_API_URL")
    token = os.environ.get("ST2_ACTION_AUTH_TOKEN") or os.environ.get("ST2_AUTH_TOKEN")
    if not url or not token:
        return None
    try:
        from st2client.client import Client
    except ImportError:
        return None
    return Client(api_url=url, token=token)


def current_execution_id() -> str:
    """This action's own execution id (StackStorm's python runner exports it)."""
    return os.environ.get("ST2_ACTION_EXECUTION_ID", "")


def execution_url(web_url: str, execution_id: str) -> str:
    """st2web's page of an execution, or "" when no base URL or id is known."""
    if not web_url or not execution_id:
        return ""
    return "%s/#/history/%s/general" % (web_url.rstrip("/"), execution_id)


def link(web_url: str, execution_id: str, label: str = "execution") -> str:
    """A Slack mrkdwn link `<url|label>`, or "" without a URL."""
    url = execution_url(web_url, execution_id)
    return "<%s|%s>" % (url, label) if url else ""


def root_execution(client: Any, execution_id: str) -> str:
    """The top-level execution (the playbook workflow) above `execution_id`."""
    current = execution_id
    for _ in range(MAX_PARENT_HOPS):
        try:
            execution = client.executions.get_by_id(current)
        except Exception:  # unreachable API: the best known id is still a useful link
            return current
        parent = ((getattr(execution, "context", None) or {}).get("parent") or {})
        if not parent.get("execution_id"):
            return current
        current = parent["execution_id"]
    return current


def incident_of_execution(client: Any, execution_id: str) -> str:
    """Walk an execution (an Inquiry's) up to a workflow that has an `incident_id` parameter."""
    current = execution_id
    for _ in range(MAX_PARENT_HOPS):
        execution = client.executions.get_by_id(current)
        params = getattr(execution, "parameters", None) or {}
        if params.get("incident_id"):
            return str(params["incident_id"])
        parent = ((getattr(execution, "context", None) or {}).get("parent") or {})
        current = parent.get("execution_id")
        if not current:
            break
    return ""


# StackStorm's completed execution states (st2common.constants.action)
ENDED_STATES = ("succeeded", "failed", "timeout", "canceled", "abandoned")


def owning_workflow(client: Any, execution_id: str) -> str:
    """The top-level execution above `execution_id`, or "" when the API cannot say for sure.

    Unlike `root_execution` (a best-effort link), a failed lookup gives "" rather than an
    intermediate id: an owner recorded wrongly would make an incident look abandoned.
    """
    current = execution_id
    for _ in range(MAX_PARENT_HOPS):
        try:
            execution = client.executions.get_by_id(current)
        except Exception:
            return ""
        if execution is None:
            return ""
        parent = ((getattr(execution, "context", None) or {}).get("parent") or {})
        if not parent.get("execution_id"):
            return current
        current = parent["execution_id"]
    return ""


def execution_ended(client: Any, execution_id: str) -> Optional[str]:
    """Why `execution_id` no longer runs ("canceled", "unknown to StackStorm", ...), "" while it
    is still live (running, paused on an Inquiry, ...), None when the API cannot say."""
    try:
        execution = client.executions.get_by_id(execution_id)
    except Exception:
        return None
    if execution is None:  # st2client answers None on a 404: StackStorm has no such execution
        return "unknown to StackStorm"
    status = str(getattr(execution, "status", "") or "")
    return status if status in ENDED_STATES else ""
