"""Shared helpers of the genuine-StackStorm tests: the pack's metadata loaded with st2's own
MetaLoader, st2's runner and policy-type definitions, and the st2 source tree."""
import glob
import os
from typing import Any, Dict, List, Tuple

import st2common
import yaml
from st2common.content.loader import MetaLoader

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# <st2 source>/st2common/st2common/__init__.py -> <st2 source>
ST2_SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(st2common.__file__))))
KINDS = ("actions", "rules", "sensors", "aliases", "policies")

with open(os.path.join(REPO_ROOT, "pack.yaml")) as _handle:
    PACK_REF = yaml.safe_load(_handle)["ref"]


def metadata_files(kind: str) -> List[str]:
    """Paths relative to the pack of `<kind>/*.yaml` (what st2's registrars read)."""
    return sorted(os.path.relpath(p, REPO_ROOT)
                  for p in glob.glob(os.path.join(REPO_ROOT, kind, "*.yaml")))


def load(rel: str) -> Dict[str, Any]:
    """One metadata file as st2's registrars prepare it: MetaLoader, `pack` filled in."""
    content = MetaLoader().load(os.path.join(REPO_ROOT, rel))
    assert isinstance(content, dict), "%s: not a mapping" % rel
    content.setdefault("pack", PACK_REF)
    return content


def runner_parameters() -> Dict[str, Dict[str, Any]]:
    """Runner name -> runner_parameters, from st2's own contrib/runners/*/*/runner.yaml."""
    runners = {}
    for path in glob.glob(os.path.join(ST2_SRC, "contrib", "runners", "*", "*", "runner.yaml")):
        with open(path) as handle:
            for runner in yaml.safe_load(handle):
                runners[runner["name"]] = runner.get("runner_parameters") or {}
    return runners


def policy_type_metadata() -> List[Tuple[str, Dict[str, Any]]]:
    """(file, content) of st2's built-in policy types (st2common/policies/meta/*.yaml)."""
    out = []
    for path in sorted(glob.glob(os.path.join(ST2_SRC, "st2common", "st2common", "policies",
                                              "meta", "*.yaml"))):
        with open(path) as handle:
            out.append((os.path.basename(path), yaml.safe_load(handle)))
    return out
