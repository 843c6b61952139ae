"""Detectors: plain classes (no StackStorm) that turn Prometheus/API data into signals."""
from typing import Any, Dict, List, Optional, Sequence, Type

from lib.detectors.base import Detector
from lib.detectors.certificate_expiry import CertificateExpiryDetector
from lib.detectors.connection_pool import ConnectionPoolDetector
from lib.detectors.cpu_throttling import CpuThrottlingDetector
from lib.detectors.crash_loop import CrashLoopDetector
from lib.detectors.disk_pressure import DiskPressureDetector
from lib.detectors.error_rate import ErrorRateDetector
from lib.detectors.latency_anomaly import LatencyAnomalyDetector
from lib.detectors.memory_leak import MemoryLeakDetector
from lib.detectors.memory_pressure import MemoryPressureDetector
from lib.detectors.node_not_ready import NodeNotReadyDetector

REGISTRY: Dict[str, Type[Detector]] = {cls.name: cls for cls in (
    MemoryPressureDetector, MemoryLeakDetector, CpuThrottlingDetector, CrashLoopDetector,
    LatencyAnomalyDetector, ErrorRateDetector, DiskPressureDetector, ConnectionPoolDetector,
    CertificateExpiryDetector, NodeNotReadyDetector)}


def build_detectors(settings: Any, prom: Any, kube: Any = None,
                    names: Optional[Sequence[str]] = None) -> List[Detector]:
    """Instances of the enabled detectors (all, or those named), in registry order."""
    wanted = list(REGISTRY) if names is None else list(names)
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        raise ValueError("unknown detector(s): %s" % ", ".join(unknown))
    return [REGISTRY[n](settings, prom, kube) for n in wanted
            if settings.detector_enabled(n)]


__all__ = ["Detector", "REGISTRY", "build_detectors"]
