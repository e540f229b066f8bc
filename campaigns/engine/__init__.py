"""The sending engine: claim queued messages with a lease, throttle per provider, send, write results.

A one-way pipeline per dispatcher: claimer -> send loop -> result writer.
- `claim`: one short transaction (one statement on PostgreSQL) leases a chunk of due messages.
- `build`: renders each claimed message's request.
- `limiter`: per-provider concurrency slots and send rate shared by every process (Redis or database).
- `send_loop`: the asyncio loop that makes every HTTP call (no database).
- `dispatch`: the per-worker loop that joins them, and the writer thread.
- `results`: applies send results in batches through `campaigns.state.send_outcome`.
- `complete`: completes a campaign once every message has left the queue.
- `retry`: backoff with full jitter.
Message state is decided by `campaigns.state` only; see docs/engine.md for the lock order.
"""
