"""Kubernetes access for actions and sensors: one client factory and one retry policy."""
import logging
from typing import Any, Callable, Dict, Optional, Tuple

from lib import clock

LOG = logging.getLogger(__name__)

RETRYABLE_STATUSES = (429, 500, 502, 503, 504)


class KubeError(Exception):
    """A Kubernetes API call failed for good (after retries, or not retryable)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__("Kubernetes API %s %s: %s" % (status, reason, message))
        self.status = status
        self.reason = reason
        self.message = message


_CLIENT_CACHE: Dict[Tuple[bool, str, str], Any] = {}


def api_client(kube_settings: Dict[str, Any]) -> Any:
    """Build (and cache) an ApiClient from the pack's `kubernetes` settings."""
    from kubernetes import client, config  # imported lazily: sensors load fast

    in_cluster = bool(kube_settings.get("in_cluster"))
    path = kube_settings.get("kubeconfig") or ""
    context = kube_settings.get("context") or ""
    key = (in_cluster, path, context)
    if key not in _CLIENT_CACHE:
        if in_cluster:
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            _CLIENT_CACHE[key] = client.ApiClient(cfg)
        else:
            _CLIENT_CACHE[key] = config.new_client_from_config(
                config_file=path or None, context=context or None)
    return _CLIENT_CACHE[key]


class Kube:
    """Typed API groups plus `call()`, which retries 429/5xx/timeouts with back-off."""

    def __init__(self, kube_settings: Dict[str, Any], attempts: int = 4,
                 backoff_s: float = 1.0) -> None:
        from kubernetes import client

        self.api = api_client(kube_settings)
        self.timeout_s = float(kube_settings.get("request_timeout_s") or 10)
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.policy = client.PolicyV1Api(self.api)
        self.autoscaling = client.AutoscalingV2Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.events = client.EventsV1Api(self.api)

    def call(self, fn: Callable[..., Any], *args: Any, retry: bool = True,
             **kwargs: Any) -> Any:
        """Call an API method with a request timeout; retry transient failures."""
        from kubernetes.client.exceptions import ApiException

        # the client honours an int or a (connect, read) tuple; a bare float is ignored
        kwargs.setdefault("_request_timeout", (self.timeout_s, self.timeout_s))
        attempts = self.attempts if retry else 1
        last: Optional[KubeError] = None
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except ApiException as exc:
                last = KubeError(exc.status or 0, exc.reason or "", _body_message(exc.body))
                if exc.status not in RETRYABLE_STATUSES:
                    raise last from exc
            except Exception as exc:  # connection refused, read timeout, protocol errors
                if not _is_transport_error(exc):
                    raise
                last = KubeError(0, type(exc).__name__, str(exc))
            if attempt + 1 < attempts:
                delay = self.backoff_s * (2 ** attempt)
                LOG.warning("kubernetes call %s failed (%s); retry in %.1fs",
                            getattr(fn, "__name__", fn), last, delay)
                clock.sleep(delay)
        assert last is not None
        raise last


def _body_message(body: Any) -> str:
    """The `message` of a Kubernetes Status body, or the raw body."""
    if not body:
        return ""
    try:
        import json

        return str(json.loads(body).get("message", body))
    except (ValueError, TypeError, AttributeError):
        return str(body)[:500]


def _is_transport_error(exc: Exception) -> bool:
    """True for network-level failures worth a retry (urllib3 / socket errors)."""
    import socket

    try:
        import urllib3.exceptions as u3
        transport = (u3.HTTPError, socket.timeout, ConnectionError, TimeoutError)
    except ImportError:  # pragma: no cover
        transport = (socket.timeout, ConnectionError, TimeoutError)
    return isinstance(exc, transport)


