"""The sending engine: claim queued messages with a lease, throttle per provider, send, write results.

A one-way pipeline per dispatcher (`dispatch`): claimer -> send loop -> result writer.
- `claimer`: leases a chunk of due messages (`claim`, through `campaigns.storage`) and builds each
  one's request (`build`).
- `limiter`: per-provider concurrency slots and send rate shared by every process (Redis or database).
- `send_loop`: the asyncio loop that makes every HTTP call, and what one send does (no database).
- `writer`: stores results in batches (`results`: through `campaigns.state.send_outcome`), then
  frees their slots; a thread and connection of its own where the storage allows it.
- `campaign_states`: pause / cancel / completion as the dispatcher sees them each second.
- `complete`: completes a campaign once every message has left the queue.
- `retry`: backoff with full jitter.
Message state is decided by `campaigns.state` only; see docs/engine.md for the lock order.
"""
