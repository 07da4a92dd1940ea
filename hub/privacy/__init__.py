"""Retention and erasure of personal data (docs/retention.md).

- :mod:`hub.privacy.settings`: ``hub.retention`` in the configuration;
- :mod:`hub.privacy.rules`: the legal durations, and until when each learner's data is kept;
- :mod:`hub.privacy.pseudonymise`: what an erased event row keeps;
- :mod:`hub.privacy.dead_letters`: finding the dead letters (rejects) that name a person, and scrubbing them;
- :mod:`hub.privacy.erasure`: erasing (record in the ledger, seal, rewrite, clean up), resumable;
- :mod:`hub.privacy.job`: the retention run (scheduled daily, and ``parcours retention run``).

The ledger side (how ``verify`` and ``prove`` accept an erased row) is :mod:`hub.ledger.tombstones`.
"""
