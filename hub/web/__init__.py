"""The web app: server-rendered pages for the people who act on the evidence, served by the
daemon under ``/app/`` (see docs/web-app.md).

One module per job: :mod:`roles` (roles and scopes), :mod:`passwords` (Argon2id), :mod:`totp`
(second factor and recovery codes), :mod:`accounts` (creating and signing in accounts),
:mod:`context` (what the pages share: rendering, the session and CSRF middleware),
:mod:`sessions` (server-side sessions behind a signed cookie, and sign-in links), :mod:`settings` (the
e-mail link's and OpenID Connect's configuration), :mod:`sign_in_links` and :mod:`mailer` (sign-in
by e-mail link), :mod:`oidc` (OpenID Connect), :mod:`csrf`, :mod:`headers`
(security headers), :mod:`i18n` (French, English), :mod:`guard` (who may reach a route),
:mod:`live` (server-sent events when attendance arrives), :mod:`today` (the trainer's week), the
routes per role (:mod:`routes_auth`, :mod:`routes_email_link`, :mod:`routes_oidc`, :mod:`routes_home`, :mod:`routes_trainer`,
:mod:`routes_learner`), :mod:`static`, and :mod:`app`, which assembles them into the
sub-application ``hub.runtime.server`` mounts.
"""

PREFIX = "/app"
