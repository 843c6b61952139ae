"""Memory curve judgement: a straight line (a leak) or an approach to a plateau (a warm-up).

Pure Python (the pack's runtime has no numpy). Two models are fitted by least squares to
(time, bytes) points:

- linear growth, m(t) = a + b·t;
- a saturating approach, m(t) = A − (A − m0)·e^(−t/τ), i.e. A + B·e^(−t/τ): for a fixed τ
  it is linear in (A, B), so τ is found by a search over a log-spaced grid (from a small
  fraction of the observed span to a hundred times it; at large τ the model tends to the
  line, so it nests the linear one) refined by golden-section search.

The saturation is established only when the line is statistically ruled out: the profile of
the residual sum of squares over τ gives a confidence set of τ (SSE(τ) <= SSE_min·(1 + F/(n−3)));
if the largest τ of the grid (the quasi-linear end) is inside it, the curvature is not
significant. Otherwise the asymptote's upper bound is the largest A over that set, and the
curve is a warm-up when that bound stays below the limit with a margin. `judge` returns the
verdict and the projected time to reach the limit under the model that was retained.
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

Points = Sequence[Tuple[float, float]]

# F quantile used for the τ confidence set (about 3 sigma for one parameter: conservative
# because real memory noise is autocorrelated).
F_CONFIDENCE = 9.0
# The asymptote's upper bound must stay this far below the limit to call it a warm-up.
LIMIT_MARGIN = 0.1
GRID = 60
MIN_POINTS = 6


def fit_line(points: Points) -> Dict[str, float]:
    """Least-squares line: slope (per second), intercept at the first point's time, sse."""
    t0 = points[0][0]
    n = float(len(points))
    mean_t = sum(t - t0 for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    stt = sum((t - t0 - mean_t) ** 2 for t, _ in points)
    slope = 0.0 if stt == 0 else sum(
        (t - t0 - mean_t) * (v - mean_v) for t, v in points) / stt
    intercept = mean_v - slope * mean_t
    sse = sum((v - intercept - slope * (t - t0)) ** 2 for t, v in points)
    return {"slope": slope, "intercept": intercept, "sse": sse}


def _fit_tau(points: Points, tau: float) -> Tuple[float, float, float]:
    """(A, B, sse) of A + B·e^(−(t − t0)/τ) for a fixed τ."""
    t0 = points[0][0]
    xs = [math.exp(-(t - t0) / tau) for t, _ in points]
    n = float(len(points))
    mean_x = sum(xs) / n
    mean_v = sum(v for _, v in points) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx <= 0:
        return mean_v, 0.0, sum((v - mean_v) ** 2 for _, v in points)
    b = sum((x - mean_x) * (v - mean_v) for x, (_, v) in zip(xs, points)) / sxx
    a = mean_v - b * mean_x
    sse = sum((v - a - b * x) ** 2 for x, (_, v) in zip(xs, points))
    return a, b, sse


def fit_saturating(points: Points) -> Dict[str, Any]:
    """Best τ (seconds), asymptote A, B, sse, and the profile [(τ, A, B, sse)] over the grid."""
    span = points[-1][0] - points[0][0]
    if span <= 0:
        raise ValueError("fit_saturating: the points span no time")
    lo, hi = math.log(span / 50.0), math.log(span * 100.0)
    profile: List[Tuple[float, float, float, float]] = []
    for i in range(GRID):
        tau = math.exp(lo + (hi - lo) * i / (GRID - 1))
        profile.append((tau,) + _fit_tau(points, tau))
    best = min(range(len(profile)), key=lambda i: profile[i][3])
    # golden-section refinement of log τ between the neighbours of the best grid point
    a = math.log(profile[max(0, best - 1)][0])
    b = math.log(profile[min(len(profile) - 1, best + 1)][0])
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = _fit_tau(points, math.exp(c))[2], _fit_tau(points, math.exp(d))[2]
    for _ in range(30):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _fit_tau(points, math.exp(c))[2]
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _fit_tau(points, math.exp(d))[2]
    tau = math.exp((a + b) / 2)
    asym, coef, sse = _fit_tau(points, tau)
    if sse > profile[best][3]:
        tau, asym, coef, sse = profile[best]
    return {"tau": tau, "asymptote": asym, "b": coef, "sse": sse, "profile": profile}


def _upper_tau_fit(points: Points, sat: Dict[str, Any],
                   threshold: float) -> Optional[Tuple[float, float, float]]:
    """(τ, A, B) at the largest τ whose fit stays within `threshold` (bisection on log τ
    between the best τ and the first grid point above it that leaves the set); None when
    the best fit itself is not a growth towards a plateau."""
    inside = sat["tau"]
    if sat["b"] >= 0:
        return None
    outside = None
    for tau, _, _, sse in sat["profile"]:
        if tau > inside and sse > threshold:
            outside = tau
            break
        if tau > inside:
            inside = tau
    if outside is None:
        return None
    lo, hi = math.log(inside), math.log(outside)
    for _ in range(40):
        mid = (lo + hi) / 2
        if _fit_tau(points, math.exp(mid))[2] <= threshold:
            lo = mid
        else:
            hi = mid
    tau = math.exp(lo)
    a, b, _ = _fit_tau(points, tau)
    return (tau, a, b) if b < 0 else None


def _time_to(fit: Tuple[float, float, float], age: float, limit: float) -> Optional[float]:
    """Seconds from `age` until A + B·e^(−t/τ) reaches `limit` (None: its plateau is below)."""
    tau, a, b = fit
    now = a + b * math.exp(-age / tau)
    if now >= limit:
        return 0.0
    if a <= limit:
        return None
    return tau * math.log((a - now) / (a - limit))


def judge(points: Points, limit: Optional[float]) -> Dict[str, Any]:
    """Verdict on a memory curve against its limit.

    `verdict`: "warmup" (saturation significant, the asymptote's upper bound below
    (1 − margin)·limit), "saturating" (saturation significant but its plateau could reach the
    limit), "linear" (the line is not ruled out), or "unknown" (too few points or no growth).
    `time_to_limit_s`: projected from now under the retained model (None: never reached or
    no limit). `model`: "saturating" or "linear". Values are rounded for the record."""
    points = sorted((float(t), float(v)) for t, v in points)
    out: Dict[str, Any] = {"verdict": "unknown", "model": "linear", "time_to_limit_s": None,
                           "points": len(points)}
    if len(points) < MIN_POINTS or points[-1][0] <= points[0][0]:
        return out
    line = fit_line(points)
    sat = fit_saturating(points)
    n = len(points)
    t_last, v_last = points[-1]
    t0 = points[0][0]
    # a floor on the residuals, so that a noiseless curve still gets a finite confidence set
    floor = n * (1e-6 * max(abs(v) for _, v in points)) ** 2
    threshold = max(sat["sse"], floor) * (1.0 + F_CONFIDENCE / max(1, n - 3))
    quasi_linear = sat["profile"][-1][3] <= threshold
    upper_fit = None if quasi_linear else _upper_tau_fit(points, sat, threshold)
    out.update({"line_slope_per_s": line["slope"], "line_sse": line["sse"],
                "sat_sse": sat["sse"], "tau_s": round(sat["tau"], 1),
                "asymptote": round(sat["asymptote"], 1)})
    level = line["intercept"] + line["slope"] * (t_last - t0)
    if quasi_linear or upper_fit is None or sat["b"] >= 0:
        out["verdict"] = "linear" if line["slope"] > 0 else "unknown"
        if limit is not None and line["slope"] > 0:
            out["time_to_limit_s"] = max(0.0, (limit - level) / line["slope"])
        return out
    upper = upper_fit[1]
    out["model"] = "saturating"
    out["asymptote_upper"] = round(upper, 1)
    if limit is not None and upper < (1.0 - LIMIT_MARGIN) * limit:
        out["verdict"] = "warmup"
        return out
    out["verdict"] = "saturating"
    if limit is not None:
        # the most pessimistic fit of the confidence set (the highest plateau) decides
        out["time_to_limit_s"] = _time_to(upper_fit, t_last - t0, limit)
    return out
