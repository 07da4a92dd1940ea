"""Dropout risk: evaluate the model against the rules, train it, score and flag enrolments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from hub.cli.alerts import record_follow_up
from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.errors import HubError

KIND_OPTION = click.option("--model", "kind", type=click.Choice(["logistic_regression", "gradient_boosting"]),
                           help="The model to fit (default: hub.risk.model).")
AS_OF_OPTION = click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
                            help="Score as of this day (18:00 local; default: now).")


@click.group()
def risk() -> None:
    """Dropout risk that explains itself (Qualiopi indicator 12): see docs/risk.md."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def print_evaluation(result: dict[str, Any]) -> None:
    if "model" not in result:
        click.echo(f"model NOT used: {result['why']}")
        return
    click.echo(f"held-out split by time: trained on the cohorts that ended before {result['cutoff']} "
               f"({result['train']} snapshots), tested on those starting from then ({result['test']} snapshots)")
    click.echo(f"{'':24}{'AUC':>8}{'P@k':>10}{'Brier':>9}")
    for name in ("model", "rules"):
        m = result[name]
        label = f"{name} ({result['model_kind']})" if name == "model" else "rules (alerts)"
        click.echo(f"{label:<24}{_num(m['auc']):>8}{_pct(m['precision_at_k']):>10}{_num(m['brier']):>9}")
    click.echo(f"  (k = {result['model']['k']}; {result['model']['dropouts']} dropouts among {result['model']['n']})")
    click.echo("reliability of the model (predicted → observed):")
    for b in result["model"]["reliability"]:
        click.echo(f"  {b['bin']}: {b['n']:>4} snapshots, predicted {_pct(b['predicted'])}, observed {_pct(b['observed'])}")
    click.echo(f"fairness at the threshold {result['threshold']:g} (model | rules):")
    for attribute in ("funder", "modality"):
        for group, m in result["fairness"]["model"][attribute].items():
            r = result["fairness"]["rules"][attribute][group]
            click.echo(f"  {attribute} {group:<16} n {m['n']:>4}, dropouts {m['dropouts']:>3}; AUC {_num(m['auc'])} | "
                       f"{_num(r['auc'])}; flagged {_pct(m['flagged'])} | {_pct(r['flagged'])}; dropouts flagged "
                       f"{_pct(m['dropouts_flagged'])} | {_pct(r['dropouts_flagged'])}")
    follow = result.get("follow_up")
    if follow is not None:
        click.echo(f"follow-up: {follow['flagged']} finished enrolments were flagged, {follow['followed_up']} followed "
                   f"up; completed: {_pct(follow['followed_up_completion'])} of those followed up, "
                   f"{_pct(follow['not_followed_up_completion'])} of the others")
    click.echo(("model USED: " if result["used"] else "model NOT used: ") + result["why"])


@risk.command("evaluate")
@CONFIG_OPTION
@KIND_OPTION
@JSON_OPTION
def risk_evaluate(config_path: str, kind: str | None, as_json: bool) -> None:
    """Compare the model with the rules on later cohorts held out: AUC, precision at k, calibration,
    per funder and modality; say whether the model is used."""
    from hub.risk.model import load_current
    from hub.risk.service import evaluation

    hub = open_hub(config_path)
    result = run_hub(hub, lambda: evaluation(hub, kind))
    try:
        stored = load_current(hub.config.data_dir)
    except HubError as exc:
        fail(str(exc), 2)
    result["stored"] = None if stored is None else {"version": stored.version, "used": stored.used}
    if as_json:
        print_json(result)
        return
    print_evaluation(result)
    if stored is None:
        click.echo("no model stored yet (`parcours risk train`): the hub scores with the rules")
    else:
        click.echo(f"stored model {stored.version}: " + ("the hub scores with it" if stored.used
                                                          else "not used, the hub scores with the rules"))


@risk.command("train")
@CONFIG_OPTION
@KIND_OPTION
def risk_train(config_path: str, kind: str | None) -> None:
    """Fit the model on the finished enrolments and store it (a new version, current from now on)."""
    from hub.risk.service import train

    hub = open_hub(config_path)
    model, result = run_hub(hub, lambda: train(hub, kind))
    if model is None:
        click.echo(result["why"])
        return
    print_evaluation(result)
    click.echo(f"stored as {model.version} under {hub.config.data_dir / 'risk' / 'models'}"
               + ("" if model.used else " (kept for the record; the hub scores with the rules)"))


def _as_of(hub, day: dt.datetime | None):
    from hub.risk.service import default_as_of

    return default_as_of(day.date() if day else None, hub.config.timezone)


@risk.command("score")
@CONFIG_OPTION
@click.option("--action", help="Only this training action.")
@AS_OF_OPTION
@click.option("--all", "show_all", is_flag=True, help="Also the enrolments below the threshold.")
@JSON_OPTION
def risk_score(config_path: str, action: str | None, as_of: dt.datetime | None, show_all: bool, as_json: bool) -> None:
    """The dropout risk of the enrolments in progress, highest first, each with its reasons."""
    from hub.risk.reasons import sentence
    from hub.risk.service import scores

    hub = open_hub(config_path)
    if action and action not in hub.config.model.actions:
        fail(f"--action {action!r}: no such training action in the configuration", 2)
    try:
        found = run_hub(hub, lambda: scores(hub, as_of=_as_of(hub, as_of), action=action))
    except HubError as exc:
        fail(str(exc), 2)
    threshold = hub.config.hub.risk.threshold
    shown = [s for s in found if show_all or s.score >= threshold]
    if as_json:
        print_json([{"learner": s.learner_id, "learner_name": s.learner_name, "action": s.action_id,
                     "score": s.score, "threshold": threshold, "model": s.model, "as_of": s.as_of.isoformat(),
                     "reasons": s.reasons} for s in shown])
        return
    if not found:
        click.echo("no enrolment in progress" + (f" in {action}" if action else ""))
        return
    model = found[0].model
    click.echo(f"{len(found)} enrolment(s) in progress scored with {'the rules' if model == 'rules' else model}; "
               f"{sum(s.score >= threshold for s in found)} at or above the threshold {threshold:g}")
    for s in shown:
        click.echo(f"{s.score * 100:5.1f} %  {s.action_id}  {s.learner_name or s.learner_id}"
                   f" — {sentence(s.reasons) or 'rien de notable'}")


@risk.command("flag")
@CONFIG_OPTION
@AS_OF_OPTION
def risk_flag(config_path: str, as_of: dt.datetime | None) -> None:
    """Flag (risk.flagged events) the enrolments whose risk reaches the threshold; the same
    situation is flagged once."""
    from hub.risk.service import flag

    hub = open_hub(config_path)
    try:
        appended, scored = run_hub(hub, lambda: flag(hub, as_of=_as_of(hub, as_of)))
    except HubError as exc:
        fail(str(exc), 2)
    click.echo(f"{scored} enrolment(s) scored, {appended} new risk flag(s)")


@risk.command("follow-up")
@CONFIG_OPTION
@click.argument("flag_id")
@click.option("--note", required=True, help="What was done (call, e-mail, meeting…).")
@click.option("--by", "by", help="Who did it (default: the current user).")
def risk_follow_up(config_path: str, flag_id: str, note: str, by: str | None) -> None:
    """Record the follow-up of FLAG_ID (a risk.flagged event id): an alert.followed_up event."""
    record_follow_up(config_path, flag_id, "risk.flagged", note, by,
                     not_found=f"{flag_id} is not a risk flag (see `parcours risk score` and the risk.flagged events)")
