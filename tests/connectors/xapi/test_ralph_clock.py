"""Against a real Ralph 5.1 (`since` on `timestamp`, `stored` = when Ralph received the statement): a
statement that reached Ralph later than `overlap` after it happened is a warning of the sync."""

from __future__ import annotations

import copy
import datetime as dt

from tests.connectors.xapi.test_ralph import post, pull_config
from tests.fakes import xapi_statements as S

UTC = dt.timezone.utc


async def test_ralph_statements_posted_hours_late_make_the_sync_warn(ralph, make_hub, workdir):
    now = dt.datetime.now(UTC)
    statements = []
    for n, ago in enumerate((dt.timedelta(hours=3), dt.timedelta(minutes=1))):
        statement = copy.deepcopy(S.DOWNLOADED)
        statement.update(id=f"c1a1e2f0-6666-4c1e-9d2a-{n:012d}", timestamp=S._ts(now - ago))
        statements.append(statement)
    await post(ralph, statements)
    (workdir / "secrets" / "ralph-user").write_text(ralph.username)
    (workdir / "secrets" / "ralph-password").write_text(ralph.password)
    hub = await make_hub(pull_config(ralph))
    summary = await hub.pull("ralph")
    assert summary.ok and summary.appended == 2
    (warning,) = summary.warnings
    assert warning.startswith("1 statement(s) reached the LRS more than `overlap` (1h00) after their timestamp "
                              f"(up to 3h00, e.g. {statements[0]['id']})"), warning
    assert (await hub.check_connectors())["ralph"]["details"]["cursor_warnings"]["late_statements"] == warning
