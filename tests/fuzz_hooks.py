"""Schemathesis hooks for tests/test_fuzz.py (loaded by the schemathesis process it starts).

* The document declares NDJSON bodies of ``POST /api/events`` as strings; schemathesis has no
  serializer for those media types, so they are sent as text, the way a client sends them.
* Webhook requests are signed as the test's webhook connector (``test_signed_hook``: X-Sig, the
  hex HMAC-SHA256 of the body with ``PARCOURS_FUZZ_HOOK_SECRET``), so that generated bodies get
  past the signature and reach parsing, validation and the ledger.
"""

import hashlib
import hmac
import json
import os

import schemathesis
from schemathesis.core import NOT_SET

from hub.runtime.server import NDJSON_TYPES

schemathesis.serializer.alias(list(NDJSON_TYPES), "text/plain")


@schemathesis.hook
def before_call(context, case, **kwargs):
    secret = os.environ.get("PARCOURS_FUZZ_HOOK_SECRET")
    if not secret or not case.operation.path.startswith("/webhooks/"):
        return
    body = case.body
    if body is NOT_SET or body is None:
        body = b""
    elif not isinstance(body, bytes):
        body = (body if isinstance(body, str) else json.dumps(body, default=str)).encode("utf-8", "surrogatepass")
    case.body = body
    case.media_type = "application/octet-stream"
    case.headers = {**(case.headers or {}), "X-Sig": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
