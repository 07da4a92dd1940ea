"""The France Travail format passes the funder-format contract (hub.testing.get_format_test_class)."""

import pytest

from funder_formats.france_travail import FranceTravailFormat
from hub.testing import get_format_test_class
from tests.formats.france_travail.test_france_travail import demo_hub


class TestFranceTravailContract(get_format_test_class(FranceTravailFormat, export="ft", period="2026-10")):
    @pytest.fixture
    def parcours_format_hub(self, make_hub, workdir):
        """The demo data; incomplete: no France Travail identifiers."""
        async def factory(complete: bool = True):
            return await demo_hub(make_hub, workdir, ids=complete)

        return factory
