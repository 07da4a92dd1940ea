"""The dropout model: fitted with scikit-learn, stored versioned under the data dir, explained
feature by feature.

Stored as ``<data_dir>/risk/models/<version>/model.pkl`` (the fitted scikit-learn pipeline)
beside ``metadata.json`` (kind, columns, when and on what it was trained, its evaluation, whether
it is used, and the pickle's SHA-256, checked before it is loaded); ``<data_dir>/risk/models/
current.json`` names the version the hub scores with. A pickle runs code when loaded: the hub
loads only a file under its own data dir whose digest matches the metadata written with it.

A contribution is what a feature group adds to the score's log-odds: the model's log-odds for
the enrolment minus its log-odds with that group set to its mean over the training set (exact
for the logistic regression, whose log-odds are linear; a local, perturbation-based reading for
gradient boosting).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hub.errors import HubError
from hub.risk.features import COLUMNS, GROUPS

EPS = 1e-6


def fit(kind: str, X: np.ndarray, y: np.ndarray, seed: int = 0):
    """A fitted scikit-learn classifier of ``kind`` (logistic_regression or gradient_boosting)."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic_regression":
        estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    elif kind == "gradient_boosting":
        estimator = GradientBoostingClassifier(n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8,
                                               random_state=seed)
    else:
        raise HubError(f"unknown risk model {kind!r} (logistic_regression or gradient_boosting)")
    return estimator.fit(X, y)


@dataclass
class RiskModel:
    version: str
    kind: str
    estimator: Any
    baseline: np.ndarray  # the training set's mean of each column
    metadata: dict[str, Any]

    @property
    def used(self) -> bool:
        return bool(self.metadata.get("used"))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(X)[:, 1]

    def contributions(self, X: np.ndarray) -> list[dict[str, float]]:
        """Per row, each feature group's contribution to the log-odds."""
        if len(X) == 0:
            return []
        base = _logit(self.predict(X))
        out: list[dict[str, float]] = [{} for _ in range(len(X))]
        for group, columns in GROUPS.items():
            moved = X.copy()
            moved[:, columns] = self.baseline[columns]
            delta = base - _logit(self.predict(moved))
            for row, value in zip(out, delta):
                row[group] = float(value)
        return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "risk" / "models"


def save(data_dir: Path, kind: str, estimator, baseline: np.ndarray, metadata: dict[str, Any]) -> RiskModel:
    """Store a new version (written aside, then renamed: never half-written) and make it current."""
    root = models_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name[1:].split("-")[0]) for p in root.iterdir() if p.is_dir() and p.name.startswith("v")
             and p.name[1:].split("-")[0].isdigit()]
    version = f"v{max(taken, default=0) + 1}-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    blob = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
    meta = {**metadata, "version": version, "kind": kind, "columns": COLUMNS, "baseline": baseline.tolist(),
            "sha256": hashlib.sha256(blob).hexdigest()}
    partial = root / f".{version}.partial"
    partial.mkdir()
    (partial / "model.pkl").write_bytes(blob)
    (partial / "metadata.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.rename(root / version)
    pointer = root / ".current.json.partial"
    pointer.write_text(json.dumps({"version": version}) + "\n", encoding="utf-8")
    os.replace(pointer, root / "current.json")
    return RiskModel(version, kind, estimator, baseline, meta)


def load_current(data_dir: Path) -> RiskModel | None:
    """The current model, or None when none was trained. A model whose files do not match their
    metadata (digest, columns) is refused with an error naming the file."""
    root = models_dir(data_dir)
    pointer = root / "current.json"
    if not pointer.exists():
        return None
    try:
        version = json.loads(pointer.read_text(encoding="utf-8"))["version"]
        folder = root / version
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise HubError(f"{pointer}: cannot read the current risk model ({type(exc).__name__}: {exc})") from None
    blob = (folder / "model.pkl").read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise HubError(f"{folder / 'model.pkl'}: its SHA-256 does not match {folder / 'metadata.json'}; "
                       "train again (`parcours risk train`)")
    if meta.get("columns") != COLUMNS:
        raise HubError(f"{folder / 'metadata.json'}: the model was trained on other features than this version "
                       "of the hub computes; train again (`parcours risk train`)")
    return RiskModel(version, meta["kind"], pickle.loads(blob), np.array(meta["baseline"], dtype=float), meta)
