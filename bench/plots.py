"""One PNG per scenario: the key metric over time with onset, detection, actions and recovery."""
import os
from typing import Any, Dict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_scenario(result: Any, row: Dict[str, Any], out_dir: str) -> str:
    """Draw the scenario's key metric; returns the PNG's path."""
    world = result.world
    onset = float(result.onset_epoch)
    series = world.key_metric_series()
    spec = (result.ground_truth.get("key_metric") or {})
    fig, ax = plt.subplots(figsize=(9, 4))
    if series:
        xs = [(t - onset) / 60.0 for t, _ in series]
        ys = [v for _, v in series]
        ax.plot(xs, ys, color="#1f77b4", linewidth=1.6,
                label="%s %s" % (spec.get("type", "key metric"), spec.get("target", "")))
    ax.axvline(0, color="#d62728", linestyle="--", linewidth=1, label="fault onset")
    if row.get("mttd_s") is not None:
        ax.axvline(row["mttd_s"] / 60.0, color="#ff7f0e", linewidth=1.2, label="detected")
    for execution in result.executions:
        name = execution["ref"].split(".", 1)[-1]
        if name not in row.get("actions", []) or execution.get("started_at") is None:
            continue
        x = (float(execution["started_at"]) - onset) / 60.0
        ax.axvline(x, color="#2ca02c", linewidth=0.8, alpha=0.7)
        ax.annotate(name, xy=(x, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    fontsize=7, va="top", ha="right", color="#2ca02c")
    if row.get("mttr_s") is not None:
        ax.axvline(row["mttr_s"] / 60.0, color="#9467bd", linewidth=1.2,
                   label="recovery verified")
    if row.get("baseline_ttd_s") is not None:
        ax.axvline(row["baseline_ttd_s"] / 60.0, color="#7f7f7f", linestyle=":",
                   label="baseline alert (%s)" % row.get("baseline_alert"))
    marks = [0.0] + [row[k] / 60.0 for k in ("mttd_s", "mttr_s", "baseline_ttd_s")
                     if row.get(k) is not None]
    last = (series[-1][0] - onset) / 60.0 if series else 0.0
    ax.set_xlim(-10.0, max(marks + [last]) + 2.0)  # the incident, not the hour of history
    ax.set_xlabel("minutes from fault onset (virtual)")
    ax.set_title("%s  [%s → %s]" % (row["name"], row.get("expected_outcome"),
                                    row.get("outcome")), fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    path = os.path.join(out_dir, "%s.png" % row["name"])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
