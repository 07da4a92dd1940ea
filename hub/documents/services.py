"""What documents use of the hub: :class:`DocumentServices`, built from a hub by :func:`services_of`.

Issuing, revoking and verifying need the loaded configuration, the store, the blob store, the
ledger's door (``append``), up-to-date journeys and a logger, not the assembled hub. The edges
that own a hub (the ``/verify`` routes, the CLI commands) build the services once with
:func:`services_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from hub.blobs import BlobStore
    from hub.config import LoadedConfig
    from hub.runtime.app import Hub
    from hub.store import Store
    from hub.store.base import IngestResult


@dataclass(frozen=True)
class DocumentServices:
    config: "LoadedConfig"
    store: "Store"
    blobs: "BlobStore"
    append: Callable[..., Awaitable["IngestResult"]]  # Hub.append(items, source=…, ids=…)
    project: Callable[[], Awaitable[int]]  # brings the journeys up to date with the ledger
    log: Any
    metrics: Any = None  # hub.runtime.metrics.Metrics of the process, which counts refused documents

    async def journeys(self, *, action: str | None = None, learner_id: str | None = None) -> list[dict[str, Any]]:
        """The up-to-date projected journey states of an action, of a learner, or of both."""
        await self.project()
        return await self.store.call(self.store.journeys, action=action, learner_id=learner_id)


def services_of(hub: "Hub") -> DocumentServices:
    """The services documents use, taken from an assembled hub."""
    return DocumentServices(config=hub.config, store=hub.store, blobs=hub.blobs, append=hub.append,
                            project=hub.project, log=hub.log, metrics=hub.metrics)
