"""Data drift: app.core.drift against Evidently 0.7's DataDriftPreset on the same generated data.

    .venv/bin/python benchmarks/drift.py --rows 1000000 --cols 25
    .venv/bin/python benchmarks/drift.py --rows 20000 --cols 25      # quick check

Reference and current windows have ``--rows`` rows each; four fifths of the columns are numerical and one
fifth categorical (strings). Every column is generated from its own seeded generator
(``default_rng([seed, window, column])``), so any process can regenerate any column on its own. The
current window shifts some columns for real (mean shift of 0.3 std, scale x1.5, heavier tail; category
shares changed, two labels merged, an unseen label) and leaves the others alone or nearly so (a 0.02-std
shift, below Wasserstein's 0.1 threshold).

Each side runs in a fresh subprocess of this script and reports its own peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``):

* ``--side profile``: generate the reference, build the ``ReferenceProfile`` and write ``to_bytes()`` to a
  temporary file (``our_reference_profile_seconds`` = build + serialise; the service does this once per
  model version);
* ``--side ours``: load the profile from bytes, generate the current window, time ``dataset_drift`` only
  (``our_seconds``);
* ``--side evidently``: generate both windows as pandas frames and time
  ``Report([DataDriftPreset()], include_tests=True).run(current, reference)`` (``evidently_seconds``).

The parent prints one JSON object: speed-up, the largest per-column score difference, whether every
per-column decision, the drifted-column count and the dataset decision agree, and both peak RSS figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE, CURRENT = 0, 1
PROFILE_FILE = "reference_profile.npz"


# --------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------


def column_layout(cols: int) -> tuple[list[str], list[str]]:
    categorical = max(1, cols // 5)
    numerical = cols - categorical
    return [f"num_{i:02d}" for i in range(numerical)], [f"cat_{i:02d}" for i in range(categorical)]


def numerical_column(index: int, window: int, rows: int, seed: int) -> np.ndarray:
    """A numerical feature; in the current window some features are shifted (see ``SHIFTS``)."""
    rng = np.random.default_rng([seed, window, index])
    family = index % 5
    shift = NUMERICAL_SHIFTS[index % len(NUMERICAL_SHIFTS)] if window == CURRENT else "none"
    if family == 0:
        values = rng.normal(50.0, 10.0, rows)
    elif family == 1:
        values = rng.lognormal(3.0, 0.6 if shift != "tail" else 0.8, rows)
    elif family == 2:
        values = rng.gamma(2.0, 3.0, rows)
    elif family == 3:
        values = rng.poisson(12.0, rows).astype(np.float64)  # a count feature with many ties
    else:
        values = rng.uniform(-1.0, 1.0, rows)
    if shift == "mean":
        values = values + 0.3 * values.std()
    elif shift == "scale":
        values = values * 1.5
    elif shift == "small":
        values = values + 0.02 * values.std()
    return values


NUMERICAL_SHIFTS = ("mean", "none", "scale", "small", "tail", "none", "none")
"""Shift of numerical column i in the current window: NUMERICAL_SHIFTS[i % 7]."""

CATEGORY_COUNTS = (6, 12, 4, 9, 25)


def categorical_column(index: int, window: int, rows: int, seed: int) -> np.ndarray:
    """A string feature with skewed category shares; some current windows change the shares, merge two
    labels or bring a label the reference never had."""
    category_count = CATEGORY_COUNTS[index % len(CATEGORY_COUNTS)]
    labels = np.array([f"c{index}_{k:02d}" for k in range(category_count)])
    shares = np.random.default_rng([seed, 99, index]).dirichlet(np.full(category_count, 2.0))
    rng = np.random.default_rng([seed, window, 1000 + index])
    change = ("shares", "none", "merge", "unseen", "none")[index % 5] if window == CURRENT else "none"
    if change == "shares":
        shares = np.roll(shares, 1)
    codes = rng.choice(category_count, size=rows, p=shares)
    values = labels[codes]
    if change == "merge":
        values[codes == int(np.argmax(shares))] = labels[int(np.argmin(shares))]
    elif change == "unseen":
        values[rng.random(rows) < 0.03] = f"c{index}_new"
    return values


def generate(window: int, rows: int, cols: int, seed: int) -> dict[str, np.ndarray]:
    numerical, categorical = column_layout(cols)
    data = {name: numerical_column(i, window, rows, seed) for i, name in enumerate(numerical)}
    data |= {name: categorical_column(i, window, rows, seed) for i, name in enumerate(categorical)}
    return data


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


# --------------------------------------------------------------------------------------------------------
# Sides (each in its own process)
# --------------------------------------------------------------------------------------------------------


def side_profile(args: argparse.Namespace) -> dict[str, Any]:
    from app.core import drift

    numerical, categorical = column_layout(args.cols)
    kinds = dict.fromkeys(numerical, drift.ColumnKind.NUMERICAL)
    kinds |= dict.fromkeys(categorical, drift.ColumnKind.CATEGORICAL)
    reference = generate(REFERENCE, args.rows, args.cols, args.seed)
    started = time.perf_counter()
    profile = drift.build_reference_profile(reference, kinds)
    blob = profile.to_bytes()
    seconds = time.perf_counter() - started
    Path(args.workdir, PROFILE_FILE).write_bytes(blob)
    return {"seconds": seconds, "profile_bytes": len(blob), "peak_rss_mb": peak_rss_mb()}


def side_ours(args: argparse.Namespace) -> dict[str, Any]:
    from app.core import drift

    blob = Path(args.workdir, PROFILE_FILE).read_bytes()
    started = time.perf_counter()
    profile = drift.ReferenceProfile.from_bytes(blob)
    load_seconds = time.perf_counter() - started
    del blob
    current = generate(CURRENT, args.rows, args.cols, args.seed)
    started = time.perf_counter()
    result = drift.dataset_drift(profile, current)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "profile_load_seconds": load_seconds,
        "columns": {
            c.column: {"method": c.method_display_name, "score": c.score, "drifted": c.drifted}
            for c in result.columns
        },
        "drifted_columns": result.number_of_drifted_columns,
        "dataset_drift": result.dataset_drift,
        "peak_rss_mb": peak_rss_mb(),
    }


def side_evidently(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core / litestar deprecations on import
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

    numerical, categorical = column_layout(args.cols)
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    reference = pd.DataFrame(generate(REFERENCE, args.rows, args.cols, args.seed))
    current = pd.DataFrame(generate(CURRENT, args.rows, args.cols, args.seed))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # chi-square / correlations on edge data
        snapshot = Report([DataDriftPreset()], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    seconds = time.perf_counter() - started
    result = snapshot.dict()
    count_metric = next(m for m in result["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    share_test = next(t for t in result["tests"] if t["metric_config"]["metric_id"] == count_metric["id"])
    status = {
        t["metric_config"]["params"]["column"]: t["status"]
        for t in result["tests"]
        if t["metric_config"]["params"]["type"].endswith("ValueDrift")
    }
    columns = {
        m["config"]["column"]: {
            "method": m["config"]["method"],
            "score": float(m["value"]),
            "drifted": status[m["config"]["column"]] == "FAIL",
        }
        for m in result["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    return {
        "seconds": seconds,
        "columns": columns,
        "drifted_columns": int(count_metric["value"]["count"]),
        "dataset_drift": share_test["status"] == "FAIL",
        "peak_rss_mb": peak_rss_mb(),
    }


SIDES = {"profile": side_profile, "ours": side_ours, "evidently": side_evidently}


# --------------------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------------------


def run_side(side: str, args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--side", side, "--rows", str(args.rows), "--cols", str(args.cols)]
    command += ["--seed", str(args.seed), "--workdir", workdir]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"--side {side} failed:\n{finished.stderr}")
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def compare(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mlslo-drift-bench-") as workdir:
        profile = run_side("profile", args, workdir)
        ours = run_side("ours", args, workdir)
        theirs = run_side("evidently", args, workdir)
    names = list(ours["columns"])
    if names != list(theirs["columns"]):
        raise RuntimeError(f"column sets differ: {names} vs {list(theirs['columns'])}")
    score_diffs = {n: abs(ours["columns"][n]["score"] - theirs["columns"][n]["score"]) for n in names}
    same_columns = all(ours["columns"][n]["drifted"] == theirs["columns"][n]["drifted"] for n in names)
    same_methods = all(ours["columns"][n]["method"] == theirs["columns"][n]["method"] for n in names)
    return {
        "rows": args.rows,
        "cols": args.cols,
        "seed": args.seed,
        "our_seconds": round(ours["seconds"], 4),
        "evidently_seconds": round(theirs["seconds"], 3),
        "speedup": round(theirs["seconds"] / ours["seconds"], 1),
        "max_abs_score_diff": max(score_diffs.values()),
        "same_drift_decisions": bool(
            same_columns
            and ours["drifted_columns"] == theirs["drifted_columns"]
            and ours["dataset_drift"] == theirs["dataset_drift"]
        ),
        "same_methods": same_methods,
        "our_peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "evidently_peak_rss_mb": round(theirs["peak_rss_mb"], 1),
        "rss_ratio": round(ours["peak_rss_mb"] / theirs["peak_rss_mb"], 3),
        "drifted_columns": ours["drifted_columns"],
        "evidently_drifted_columns": theirs["drifted_columns"],
        "dataset_drift": ours["dataset_drift"],
        "our_reference_profile_seconds": round(profile["seconds"], 3),
        "our_reference_profile_bytes": profile["profile_bytes"],
        "our_profile_load_seconds": round(ours["profile_load_seconds"], 3),
        "methods": sorted({c["method"] for c in ours["columns"].values()}),
        "drifted_column_names": [n for n in names if ours["columns"][n]["drifted"]],
        "max_abs_score_diff_column": max(score_diffs, key=lambda n: score_diffs[n]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=25)
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side is None:
        print(json.dumps(compare(args)))
    else:
        print(json.dumps(SIDES[args.side](args)))


if __name__ == "__main__":
    main()
