"""A provider's credentials for the send loop: fetched once for all the sends waiting on them.

Contract: `ready()` says, without I/O, whether a send can be authenticated now; `fetch()` runs on the
send loop and brings the credentials into memory in a worker thread (the shared cache, the token
endpoint), one fetch at a time. Sends that waited while a fetch ran take its outcome instead of
fetching again (a token endpoint that is down is asked once per wave, not once per send). `refused`,
the headers of a request the vendor refused (401/403), asks for a new token unless the headers at hand
are newer already. The outcome is None, or the RETRY result a send gets (our own problem).
"""

from __future__ import annotations

import asyncio

from providers.kinds.base import SendResult
from providers.models import Provider
from providers.sending import credentials_at_hand, refresh_credentials


class Credentials:
    def __init__(self, provider: Provider, session):
        self.provider, self.session = provider, session
        self.lock = asyncio.Lock()
        self.generation = 0  # fetches done
        self.failure: SendResult | None = None  # what the last one gave

    def ready(self, refused: dict[str, str] | None = None) -> bool:
        return credentials_at_hand(self.provider, refused=refused)

    async def fetch(self, *, refused: dict[str, str] | None = None) -> SendResult | None:
        generation = self.generation
        async with self.lock:
            if self.generation != generation:
                return self.failure  # fetched (or failed) while this send waited
            if self.ready(refused):
                return None
            self.failure = await refresh_credentials(
                self.provider, session=self.session, refresh=refused is not None
            )
            self.generation += 1
            return self.failure
