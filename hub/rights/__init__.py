"""A person's rights over their data (RGPD): access and portability (:mod:`hub.rights.export`, a zip
with everything the hub holds about a learner, JSON and PDF) and rectification
(:mod:`hub.rights.rectify`, a correction event, the projections corrected, the documents that
change re-issued). See docs/personal-data.md."""
