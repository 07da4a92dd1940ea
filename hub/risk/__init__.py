"""Dropout risk that explains itself (Qualiopi indicator 12): features of an enrolment as of a
date (:mod:`hub.risk.features`), the alert rules as a baseline (:mod:`hub.risk.rules`), a model
trained on the organisation's finished enrolments (:mod:`hub.risk.model`), its evaluation on
later cohorts (:mod:`hub.risk.evaluate`), reasons in words (:mod:`hub.risk.reasons`) and the
``risk.flagged`` events (:mod:`hub.risk.flagging`). See docs/risk.md."""
