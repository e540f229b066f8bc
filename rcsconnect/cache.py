"""Django's Redis cache backend, with one `redis.Redis` client per connection pool instead of one per call.

Django builds a new `redis.Redis` for every cache operation (`RedisCacheClient.get_client`); its
constructor fills a table of ~170 response callbacks, which costs more CPU than the round trip
itself. The client is thread-safe and holds no connection of its own (the pool does), so one per
pool is enough. Everything else is Django's backend unchanged.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
