"""bench/libs_bench.py runs and compares like with like (no timing is asserted)."""

from __future__ import annotations

from bench import libs_bench


def test_the_library_benchmark_makes_the_same_things(capsys):
    make, monotonic = libs_bench.ulid_candidates(50)["hub.ulid.new_ulids (batch)"]
    assert monotonic and libs_bench.increasing(make) and len(make()) == 50
    for name, candidate in libs_bench.ulid_candidates(50).items():
        if not isinstance(candidate, str):
            assert all(len(i) == 26 for i in candidate[0]()), name
    parsed = {name: c[0]() for name, c in libs_bench.duration_candidates(20).items() if not isinstance(c, str)}
    assert len({tuple(p) for p in parsed.values()}) == 1  # every parser reads the same durations
    assert libs_bench.main(["--batch", "20", "--rounds", "1", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "hub.ulid.new_ulids (batch)" in out and "connectors.xapi.iso8601" in out
