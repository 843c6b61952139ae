"""Write kubeconfig files that point the official client (or kubectl) at the twin's API server.

    write_kubeconfig(path, "http://127.0.0.1:PORT", token, user="self-healing")
    write_kubeconfigs(directory, url, sa_token, admin_token)
        -> {"pack": <dir>/kubeconfig-pack.yaml, "admin": <dir>/kubeconfig-admin.yaml}
"""
import base64
import os
from typing import Dict, Optional

import yaml


def kubeconfig_dict(server_url: str, token: str, user: str = "self-healing",
                    cluster: str = "twin", namespace: str = "default",
                    ca_pem: Optional[bytes] = None) -> Dict[str, object]:
    """The kubeconfig document for one bearer token (ca_pem: the server's CA for https)."""
    context = "%s@%s" % (user, cluster)
    entry: Dict[str, str] = {"server": server_url}
    if ca_pem:
        entry["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": entry}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user,
                                                   "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(path: str, server_url: str, token: str, user: str = "self-healing",
                     cluster: str = "twin", namespace: str = "default",
                     ca_pem: Optional[bytes] = None) -> str:
    """Write one kubeconfig (mode 0600) and return its path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(kubeconfig_dict(server_url, token, user, cluster, namespace, ca_pem), fh,
                       default_flow_style=False, sort_keys=False)
    return path


def write_kubeconfigs(directory: str, server_url: str, sa_token: str, admin_token: str,
                      ca_pem: Optional[bytes] = None) -> Dict[str, str]:
    """The pack's ServiceAccount kubeconfig and an admin one, side by side."""
    return {
        "pack": write_kubeconfig(os.path.join(directory, "kubeconfig-pack.yaml"), server_url,
                                 sa_token, user="self-healing", namespace="self-healing",
                                 ca_pem=ca_pem),
        "admin": write_kubeconfig(os.path.join(directory, "kubeconfig-admin.yaml"), server_url,
                                  admin_token, user="admin", ca_pem=ca_pem),
    }
