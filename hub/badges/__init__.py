"""Badges: milestones recognised as Open Badges 3.0 credentials anyone can verify (docs/badges.md).

Small modules, one job each:

* :mod:`~hub.badges.settings` — ``hub.badges`` in the configuration (opt-in, the badges declared);
* :mod:`~hub.badges.milestones` — which badges a computed journey has earned, and their occurrence;
* :mod:`~hub.badges.award` — ``badge.awarded`` (once per learner, badge and occurrence) and ``badge.revoked``;
* :mod:`~hub.badges.records` — an award, its revocation, a learner's badges, the revoked indices;
* :mod:`~hub.badges.credential` — the OpenBadgeCredential of an award and its VC-JWT (EdDSA);
* :mod:`~hub.badges.status` — the revocation Bitstring Status List;
* :mod:`~hub.badges.issue` — the issuer of a hub and the signed credential of an award;
* :mod:`~hub.badges.verify` — the verdict on an award and on a presented credential;
* :mod:`~hub.badges.http` — the public issuer, keys, status list, achievements, and the badge's ``/verify`` page;
* :mod:`hub.cli.badges` — ``parcours badges award|list|export|revoke|verify``.
"""
