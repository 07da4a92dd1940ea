"""The public verification page's shell, in French: one look for a document's page (/verify) and
a badge's (/badges/...), its verdict in a coloured status box, no script, no external resource."""

from __future__ import annotations

import html

#: a verdict's status -> (background, text colour, mark)
COLOURS = {"valid": ("#e6f4ea", "#1e7b34", "✔"), "superseded": ("#fff4e0", "#9a5b00", "⚠"),
           "revoked": ("#fdecea", "#b3261e", "✖"), "altered": ("#fdecea", "#b3261e", "✖"),
           "unknown_key": ("#fff4e0", "#9a5b00", "?"), "unknown_document": ("#f1f3f4", "#3c4043", "?"),
           "unknown": ("#f1f3f4", "#3c4043", "?")}


def verification_page(*, title: str, heading: str, status: str, message: str, body: str) -> str:
    """The page: ``title`` and ``heading`` (HTML), the verdict's ``status`` and ``message`` (text),
    then ``body`` (HTML, already escaped)."""
    bg, fg, mark = COLOURS[status]
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Vérification — {title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#fafafa;color:#202124}}
main{{max-width:40rem;margin:0 auto;padding:1rem}}
.status{{background:{bg};color:{fg};border:2px solid {fg};border-radius:.6rem;padding:1rem;font-size:1.25rem;font-weight:600}}
.status span{{font-size:1.6rem;margin-right:.4rem}}
table{{width:100%;border-collapse:collapse;margin-top:1rem;background:#fff}}
th,td{{text-align:left;vertical-align:top;padding:.55rem .5rem;border-bottom:1px solid #e0e0e0;overflow-wrap:anywhere}}
th{{width:40%;font-weight:500;color:#5f6368}}
p{{line-height:1.45}} small{{color:#5f6368}}
</style></head>
<body><main>
{heading}
<div class="status" role="status"><span aria-hidden="true">{mark}</span>{html.escape(message)}</div>
{body}
</main></body></html>
"""
