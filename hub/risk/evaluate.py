"""The evaluation of the model against the rules, on later cohorts held out (split by time).

Both are measured on the same held-out examples: AUC (how well the score ranks those who will
drop out above those who will not), precision at the top k (of the k highest scores, the share
who dropped out: what a manager who calls k learners gets), Brier score and reliability bins
(is a 30 % risk a 30 % risk?), and, per funder and per modality, the AUC, the share flagged at
the threshold and the share of the dropouts it flags (equal opportunity across groups). The
rules score is calibrated on the training cohorts (the dropout rate observed for each count of
rules firing), so that its Brier score compares with the model's.

The model is used only when its held-out AUC is at least the rules'; otherwise the hub scores
with the rules, and says so.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from hub.risk.dataset import Example, split_by_time
from hub.risk.model import fit

BINS = 5


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None


def precision_at_k(y: np.ndarray, s: np.ndarray, k: int) -> float | None:
    if len(y) == 0:
        return None
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean())


def brier(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(np.mean((p - y) ** 2)) if len(y) else None


def reliability(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> list[dict[str, Any]]:
    """Per bin of predicted risk: its range, how many, mean predicted, observed dropout rate."""
    out = []
    for i in range(bins):
        low, high = i / bins, (i + 1) / bins
        inside = (p >= low) & ((p < high) if i < bins - 1 else (p <= high))
        if inside.any():
            out.append({"bin": f"{low:.1f}-{high:.1f}", "n": int(inside.sum()), "predicted": float(p[inside].mean()),
                        "observed": float(y[inside].mean())})
    return out


def metrics(y: np.ndarray, p: np.ndarray, k: int) -> dict[str, Any]:
    return {"n": int(len(y)), "dropouts": int(y.sum()), "auc": auc(y, p), "precision_at_k": precision_at_k(y, p, k),
            "k": min(k, int(len(y))), "brier": brier(y, p), "reliability": reliability(y, p)}


def calibrate_rules(train: list[Example]) -> dict[float, float]:
    """The dropout rate observed in training for each rules score (Laplace-smoothed)."""
    counts, drops = Counter(), Counter()
    for e in train:
        counts[e.rules_score] += 1
        drops[e.rules_score] += e.label
    prior = (sum(drops.values()) + 1) / (sum(counts.values()) + 2)
    return {score: (drops[score] + prior) / (counts[score] + 1) for score in counts} | {-1.0: prior}


def rules_probabilities(examples: list[Example], table: dict[float, float]) -> np.ndarray:
    return np.array([table.get(e.rules_score, table[-1.0]) for e in examples], dtype=float)


def by_group(examples: list[Example], p: np.ndarray, threshold: float, attribute: str) -> dict[str, dict[str, Any]]:
    """Per value of ``attribute`` (funder, modality): n, dropouts, AUC, share flagged, dropouts flagged."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        groups[getattr(e.snap, attribute)].append(i)
    out = {}
    for name, rows in sorted(groups.items()):
        y = np.array([examples[i].label for i in rows], dtype=float)
        s = p[rows]
        flagged = s >= threshold
        out[name] = {"n": len(rows), "dropouts": int(y.sum()), "auc": auc(y, s), "flagged": float(flagged.mean()),
                     "dropouts_flagged": float(flagged[y == 1].mean()) if y.sum() else None}
    return out


def matrix(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([e.snap.vector() for e in examples], dtype=float)
    y = np.array([e.label for e in examples], dtype=float)
    return X, y


def evaluate(examples: list[Example], kind: str, threshold: float, k: int, seed: int = 0,
             test_share: float = 0.3) -> dict[str, Any]:
    """The held-out comparison of the model (``kind``) with the rules, and whether the model is used."""
    train, test, cutoff = split_by_time(examples, test_share)
    result: dict[str, Any] = {"cutoff": cutoff.isoformat() if cutoff else None, "train": len(train),
                              "test": len(test), "model_kind": kind, "threshold": threshold}
    if not train or not test or len({e.label for e in train}) < 2:
        result.update(used=False, why="not enough finished enrolments on both sides of the time split "
                      "(earlier cohorts to learn from, later ones to test on) with both outcomes")
        return result
    X_train, y_train = matrix(train)
    X_test, y_test = matrix(test)
    estimator = fit(kind, X_train, y_train, seed)
    p_model = estimator.predict_proba(X_test)[:, 1]
    p_rules = rules_probabilities(test, calibrate_rules(train))
    result["model"] = metrics(y_test, p_model, k)
    result["rules"] = metrics(y_test, p_rules, k)
    rules_share = np.array([e.rules_score for e in test], dtype=float)  # what the rules flag with: share of rules
    result["fairness"] = {
        "model": {attr: by_group(test, p_model, threshold, attr) for attr in ("funder", "modality")},
        "rules": {attr: by_group(test, rules_share, threshold, attr) for attr in ("funder", "modality")},
    }
    m_auc, r_auc = result["model"]["auc"], result["rules"]["auc"]
    if m_auc is None:
        result.update(used=False, why="the held-out cohorts hold a single outcome: the AUC cannot be measured")
    elif r_auc is not None and m_auc < r_auc:
        result.update(used=False, why=f"the model does worse than the rules on the held-out cohorts "
                      f"(AUC {m_auc:.3f} < {r_auc:.3f}): the hub scores with the rules")
    else:
        rules_text = f"{r_auc:.3f}" if r_auc is not None else "not measurable"
        result.update(used=True, why=f"the model does at least as well as the rules on the held-out cohorts "
                      f"(AUC {m_auc:.3f} vs {rules_text})")
    return result
