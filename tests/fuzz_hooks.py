"""Schemathesis hooks for tests/test_fuzz.py (loaded by the schemathesis process it starts).

The document declares NDJSON bodies of ``POST /api/events`` as strings; schemathesis has no
serializer for those media types, so they are sent as text, the way a client sends them.
"""

import schemathesis

from hub.runtime.server import NDJSON_TYPES

schemathesis.serializer.alias(list(NDJSON_TYPES), "text/plain")
