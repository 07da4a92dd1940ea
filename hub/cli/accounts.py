"""Accounts of the web app (docs/web-app.md): create, list, disable, change a password, renew
the second factor. Every change is recorded in the ledger as an ``admin.action`` event (without
the secret it sets); secrets are shown once, here, and kept hashed (passwords, recovery codes)."""

from __future__ import annotations

import datetime as dt
import sys

import click

from hub.cli.common import CONFIG_OPTION, JSON_OPTION, fail, open_hub, print_json, run_hub
from hub.store.base import DuplicateAccount
from hub.web.accounts import AccountError, Accounts, Secrets, normalise_email
from hub.web.roles import ROLES, Scopes

PASSWORD_FILE = click.option(
    "--password-file", type=click.File("r", encoding="utf-8"),
    help="Read the password from this file's first line ('-': standard input); default: asked for twice.")


@click.group()
def accounts() -> None:
    """Accounts of the web app (/app/): roles, scopes, passwords, second factor."""


def _password(source) -> str:
    if source is not None:
        line = source.readline().rstrip("\r\n")
        if not line:
            fail("the password file is empty")
        return line
    if not sys.stdin.isatty():
        fail("no terminal to ask the password on: give --password-file (or --password-file - for standard input)")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _secret_of(source) -> str | None:
    return source.readline().strip() if source is not None else None


def _show_secrets(email: str, secrets: Secrets) -> None:
    if not secrets.totp_secret:
        return
    click.echo("Second factor: add this account to an authenticator app (shown once):")
    click.echo(f"  secret: {secrets.totp_secret}")
    click.echo(f"  URI:    {secrets.totp_uri}")
    click.echo("Recovery codes, each usable once instead of a code (hand them to the owner, shown once):")
    for code in secrets.recovery_codes:
        click.echo(f"  {code}")


@accounts.command("add")
@CONFIG_OPTION
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may open.")
@click.option("--name", help="The person's name, shown in the pages.")
@click.option("--action", "actions", multiple=True, help="A training action in its scope (trainer, manager, auditor; repeat).")
@click.option("--funder", "funders", multiple=True, help="A funder in its scope (funder; repeat).")
@click.option("--learner", help="The learner (hub id or key, e.g. email:…) whose journey it is (learner).")
@PASSWORD_FILE
@click.option("--totp", "with_totp", is_flag=True, help="Give a learner a second factor too (every other role has one).")
@click.option("--totp-secret-file", type=click.File("r", encoding="utf-8"),
              help="Use this base32 TOTP secret (first line) instead of a new one (the demo's accounts).")
@click.option("--if-missing", is_flag=True, help="Do nothing (exit 0) when an account has this address already.")
@JSON_OPTION
def accounts_add(config_path, email, role, name, actions, funders, learner, password_file, with_totp,
                 totp_secret_file, if_missing, as_json) -> None:
    """Create an account for EMAIL; its second factor and recovery codes are printed once."""
    hub = open_hub(config_path)
    try:
        email = normalise_email(email)
    except AccountError as exc:
        fail(str(exc))
    unknown = [a for a in actions if a not in hub.config.model.actions]
    if unknown:
        fail(f"unknown training action {unknown[0]!r} (configured: {', '.join(hub.config.model.actions) or 'none'})")
    password = None

    async def work():
        nonlocal password
        service = Accounts(hub.store, hub.append)
        if await hub.store.call(hub.store.account_by_email, email) is not None and if_missing:
            return None
        learner_id = None
        if learner:
            learner_id = await hub.store.call(hub.store.learner_by_key, learner) if ":" in learner else learner
            found = learner_id and await hub.store.call(hub.store.learner, learner_id)
            if not found:
                raise AccountError(f"no learner {learner!r} in the hub (see `parcours learners show`)")
            learner_id = found["id"]
        password = password or _password(password_file)
        return await service.add(email, role, Scopes(tuple(actions), tuple(funders), learner_id), password=password,
                                 name=name, with_totp=with_totp, totp_secret=_secret_of(totp_secret_file))

    try:
        created = run_hub(hub, work)
    except (AccountError, DuplicateAccount) as exc:
        fail(str(exc))
    if created is None:
        click.echo(f"an account with the e-mail address {email} exists already: left as it is")
        return
    account, secrets = created
    if as_json:
        print_json({"id": account["id"], "email": email, "role": role, "scopes": account["scopes"],
                    "totp_secret": secrets.totp_secret, "totp_uri": secrets.totp_uri,
                    "recovery_codes": secrets.recovery_codes})
        return
    click.echo(f"account {account['id']} created: {email}, {role}")
    _show_secrets(email, secrets)


@accounts.command("hash-password")
@PASSWORD_FILE
def accounts_hash_password(password_file) -> None:
    """Print the Argon2id hash of a password, for an account declared in the configuration
    (hub.web.accounts[].password_hash, through ${file:…} or ${env:…})."""
    from hub.web.passwords import WeakPassword, hash_password

    try:
        click.echo(hash_password(_password(password_file)))
    except WeakPassword as exc:
        fail(str(exc))


@accounts.command("list")
@CONFIG_OPTION
@JSON_OPTION
def accounts_list(config_path: str, as_json: bool) -> None:
    """Every account: address, role, scopes, second factor, disabled or not."""
    hub = open_hub(config_path)
    rows = run_hub(hub, lambda: Accounts(hub.store, hub.append).list())
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no account (create one with `parcours accounts add`)")
        return
    for a in rows:
        scopes = "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in a["scopes"].items() if v)
        state = (f"disabled {dt.datetime.fromtimestamp(a['disabled_at'], dt.timezone.utc):%Y-%m-%d}"
                 if a["disabled_at"] else "active")
        factor = f"TOTP, {a['recovery_codes_left']} recovery codes" if a["second_factor"] else "password only"
        origin = "  (declared in the configuration)" if a["origin"] == "config" else ""
        click.echo(f"{a['email']}  {a['role']}  {scopes or '-'}  [{factor}]  {state}{origin}")


@accounts.command("disable")
@CONFIG_OPTION
@click.argument("email")
def accounts_disable(config_path: str, email: str) -> None:
    """Disable EMAIL's account: it can no longer sign in, and its sessions end now."""
    hub = open_hub(config_path)
    try:
        revoked = run_hub(hub, lambda: Accounts(hub.store, hub.append).disable(email))
    except AccountError as exc:
        fail(str(exc))
    click.echo(f"account {email} disabled; {revoked} session(s) ended")


@accounts.command("passwd")
@CONFIG_OPTION
@click.argument("email")
@PASSWORD_FILE
def accounts_passwd(config_path: str, email: str, password_file) -> None:
    """Set a new password for EMAIL's account; its sessions end now."""
    hub = open_hub(config_path)
    password = _password(password_file)
    try:
        run_hub(hub, lambda: Accounts(hub.store, hub.append).set_password(email, password))
    except AccountError as exc:
        fail(str(exc))
    click.echo(f"password of {email} changed; its sessions ended")


@accounts.command("totp")
@CONFIG_OPTION
@click.argument("email")
@click.option("--remove", is_flag=True, help="Remove a learner's second factor instead.")
def accounts_totp(config_path: str, email: str, remove: bool) -> None:
    """A new TOTP secret and recovery codes for EMAIL (the old ones stop working; sessions end)."""
    hub = open_hub(config_path)
    try:
        secrets = run_hub(hub, lambda: Accounts(hub.store, hub.append).reset_second_factor(email, remove=remove))
    except AccountError as exc:
        fail(str(exc))
    if remove:
        click.echo(f"second factor of {email} removed; its sessions ended")
        return
    click.echo(f"second factor of {email} renewed; its sessions ended")
    _show_secrets(email, secrets)
