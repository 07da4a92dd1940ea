"""The Région format passes the funder-format contract (hub.testing.get_format_test_class)."""

import pytest

from funder_formats.region import RegionFormat
from hub.testing import get_format_test_class
from tests.formats.region.test_region import NEWCOMER, winter_hub


class TestRegionContract(get_format_test_class(RegionFormat, export="hdf", period="2025-12")):
    @pytest.fixture
    def parcours_format_hub(self, make_hub, workdir):
        """The winter session; incomplete: a newcomer without file number nor NIR."""
        async def factory(complete: bool = True):
            return await winter_hub(make_hub, workdir, extra=None if complete else NEWCOMER)

        return factory
