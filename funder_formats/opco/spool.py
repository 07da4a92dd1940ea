"""Records written in any order, read back in the order of their keys, with memory that does not
grow with their number: an external merge sort on disk.

The export computes each journey once, in the order the hub reads them (learner ids), but its files
follow another order (action, learner's name). Records are added with their sort key; a *run* of
them — at most ``run_bytes`` of pickled records — is sorted in memory and written out, its records
to one file and its keys (with each record's offset) to another. Reading merges the runs: one key
per run in memory, and the record being handed over.

The files live in a folder of the caller's (a temporary one) and hold only what this process
wrote: pickle is safe here, and keeps Decimal and date values as they are.
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RUN_BYTES = 4 * 2**20  # pickled records held before a run is sorted and written out
PROTOCOL = pickle.HIGHEST_PROTOCOL


class SortedSpool:
    """Add ``(key, record)`` pairs in any order; iterate to get the records by increasing key.

    Keys must be unique (equal keys would come back in an unspecified order) and comparable."""

    def __init__(self, folder: Path, run_bytes: int | None = None):
        self.run_bytes = run_bytes or RUN_BYTES
        self._records = open(folder / "records.bin", "w+b")
        self._keys = open(folder / "keys.bin", "w+b")
        self._run: list[tuple[Any, bytes]] = []
        self._run_size = 0
        self._runs: list[tuple[int, int]] = []  # (offset of the run's first key, number of keys)
        self.count = 0

    def add(self, key: Any, record: Any) -> None:
        data = pickle.dumps(record, PROTOCOL)
        self._run.append((key, data))
        self._run_size += len(data)
        self.count += 1
        if self._run_size >= self.run_bytes:
            self._end_run()

    def _end_run(self) -> None:
        if not self._run:
            return
        self._run.sort(key=lambda item: item[0])
        start = self._keys.tell()
        for key, data in self._run:
            pickle.dump((key, self._records.tell()), self._keys, PROTOCOL)
            self._records.write(data)
        self._runs.append((start, len(self._run)))
        self._run, self._run_size = [], 0

    def _keys_of(self, start: int, count: int) -> Iterator[tuple[Any, int]]:
        """The (key, record offset) of one run, read one at a time (the runs share the file)."""
        position = start
        for _ in range(count):
            self._keys.seek(position)
            item = pickle.load(self._keys)
            position = self._keys.tell()
            yield item

    def __iter__(self) -> Iterator[Any]:
        self._end_run()
        self._keys.flush()
        self._records.flush()
        runs = [self._keys_of(start, count) for start, count in self._runs]
        for _key, offset in heapq.merge(*runs, key=lambda item: item[0]):
            self._records.seek(offset)
            yield pickle.load(self._records)

    def close(self) -> None:
        self._records.close()
        self._keys.close()
