"""The CPF format passes the funder-format contract (hub.testing.get_format_test_class)."""

import pytest

from funder_formats.cpf import CpfFormat
from hub.testing import get_format_test_class
from tests.formats.cpf.conftest import set_now
from tests.formats.cpf.test_export import winter_hub


class TestCpfContract(get_format_test_class(CpfFormat, export="cpf-edof", period="2026-12")):
    @pytest.fixture
    def parcours_format_hub(self, make_hub, workdir, monkeypatch):
        """The winter session; incomplete: one learner's dossier number is not recorded."""
        set_now(monkeypatch, "2027-02-01T09:00:00+01:00")

        async def factory(complete: bool = True):
            return await winter_hub(make_hub, workdir, dossier_for_bruno=complete)

        return factory
