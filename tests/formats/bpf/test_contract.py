"""The BPF format passes the funder-format contract (hub.testing.get_format_test_class)."""

import pytest

from funder_formats.bpf import BpfFormat
from hub.testing import get_format_test_class
from tests.formats.bpf.conftest import bpf_config


class TestBpfContract(get_format_test_class(BpfFormat, export="bpf", period="2026")):
    @pytest.fixture
    def parcours_format_hub(self, bpf_hub, workdir):
        """The demo year; incomplete: no organisation identity nor BPF settings."""
        async def factory(complete: bool = True):
            if complete:
                hub = await bpf_hub(bpf_config(workdir))
            else:
                hub = await bpf_hub(bpf_config(workdir, export="\nexports:\n  bpf:\n    kind: bpf\n"), organisation=False)
            await hub.pull("demo")
            return hub

        return factory
