"""Write kubeconfig files that point the official client (or kubectl) at the twin's API server.

    write_kubeconfig(path, "http://127.0.0.1:PORT", token, user="self-healing")
    write_kubeconfigs(directory, url, sa_token, admin_token)
        -> {"pack": <dir>/kubeconfig-pack.yaml, "admin": <dir>/kubeconfig-admin.yaml}
"""
import os
from typing import Dict

import yaml


def kubeconfig_dict(server_url: str, token: str, user: str = "self-healing",
                    cluster: str = "twin", namespace: str = "default") -> Dict[str, object]:
    """The kubeconfig document for one bearer token."""
    context = "%s@%s" % (user, cluster)
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": {"server": server_url}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user,
                                                   "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(path: str, server_url: str, token: str, user: str = "self-healing",
                     cluster: str = "twin", namespace: str = "default") -> str:
    """Write one kubeconfig (mode 0600) and return its path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(kubeconfig_dict(server_url, token, user, cluster, namespace), fh,
                       default_flow_style=False, sort_keys=False)
    return path


def write_kubeconfigs(directory: str, server_url: str, sa_token: str,
                      admin_token: str) -> Dict[str, str]:
    """The pack's ServiceAccount kubeconfig and an admin one, side by side."""
    return {
        "pack": write_kubeconfig(os.path.join(directory, "kubeconfig-pack.yaml"), server_url,
                                 sa_token, user="self-healing", namespace="self-healing"),
        "admin": write_kubeconfig(os.path.join(directory, "kubeconfig-admin.yaml"), server_url,
                                  admin_token, user="admin"),
    }
