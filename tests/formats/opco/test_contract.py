"""The OPCO format passes the funder-format contract (hub.testing.get_format_test_class)."""

import pytest

from funder_formats.opco.format import OpcoFormat
from hub.testing import get_format_test_class
from tests.formats.opco.conftest import open_demo
from tests.formats.opco.test_statement import EXPORTS


class TestOpcoContract(get_format_test_class(OpcoFormat, export="atlas", period="2026-10")):
    @pytest.fixture
    def parcours_format_hub(self, make_hub, workdir):
        """The demo data; incomplete: without the employers' details (SIRET)."""
        async def factory(complete: bool = True):
            return await open_demo(make_hub, workdir, EXPORTS, details=complete)

        return factory
