"""The pack on disk: its name, action metadata by ref, rules, policies, sensors, config."""
import copy
import glob
import os
import sys
from typing import Any, Dict, List, Optional

import yaml

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PackError(Exception):
    """A pack file is missing or malformed."""


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str) -> Any:
    with open(path) as handle:
        return yaml.load(handle, Loader=_LOADER)


class ActionMeta(object):
    """One action's metadata (actions/<name>.yaml)."""

    def __init__(self, pack: str, path: str, data: Dict[str, Any], base_dir: str) -> None:
        self.pack = data.get("pack") or pack
        self.name = data["name"]
        self.ref = "%s.%s" % (self.pack, self.name)
        self.path = path
        self.runner_type = data.get("runner_type", "python-script")
        self.entry_point = data.get("entry_point", "")
        self.enabled = data.get("enabled", True)
        self.parameters: Dict[str, Any] = data.get("parameters") or {}
        self.output_schema = data.get("output_schema") or {}
        self.base_dir = base_dir
        self.data = data

    @property
    def entry_path(self) -> str:
        """Absolute path of the entry point (relative to the actions directory)."""
        return os.path.join(self.base_dir, self.entry_point)


class Pack(object):
    """Reads the pack's metadata files once."""

    def __init__(self, pack_dir: str = REPO_DIR) -> None:
        self.dir = os.path.abspath(pack_dir)
        meta_path = os.path.join(self.dir, "pack.yaml")
        meta = load_yaml(meta_path) if os.path.exists(meta_path) else {}
        self.name = (meta or {}).get("ref") or (meta or {}).get("name") or "self_healing"
        self.actions_dir = os.path.join(self.dir, "actions")
        self._actions: Optional[Dict[str, ActionMeta]] = None

    def add_to_sys_path(self) -> None:
        """StackStorm puts `<pack>/actions` on sys.path so actions import `lib`."""
        if self.actions_dir not in sys.path:
            sys.path.insert(0, self.actions_dir)

    @property
    def actions(self) -> Dict[str, ActionMeta]:
        if self._actions is None:
            self._actions = {}
            for path in sorted(glob.glob(os.path.join(self.actions_dir, "*.yaml"))):
                data = load_yaml(path)
                if not isinstance(data, dict) or "name" not in data:
                    continue
                meta = ActionMeta(self.name, path, data, self.actions_dir)
                self._actions[meta.ref] = meta
        return self._actions

    def action(self, ref: str) -> ActionMeta:
        meta = self.actions.get(ref)
        if meta is None:
            raise PackError("no action %r in pack %s" % (ref, self.dir))
        return meta

    def resources(self, folder: str) -> List[Dict[str, Any]]:
        """Parsed YAML documents of `<pack>/<folder>/*.yaml`, each with `_path`."""
        found = []
        for path in sorted(glob.glob(os.path.join(self.dir, folder, "*.yaml"))):
            data = load_yaml(path)
            if isinstance(data, dict):
                data = dict(data)
                data["_path"] = path
                data.setdefault("pack", self.name)
                found.append(data)
        return found

    def config(self, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Pack config: schema defaults deep-merged with `overrides`."""
        self.add_to_sys_path()
        try:
            from lib import config as lib_config
            base = lib_config.defaults()
        except Exception:  # the schema or loader not there yet
            base = {}
        return deep_merge(base, overrides or {})


def deep_merge(base: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of `base` with `extra` merged in (nested dicts merged, other values replaced)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
