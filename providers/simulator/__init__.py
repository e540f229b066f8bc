"""The local vendor simulator: a BSP on loopback for the quick start, the tests and the benchmarks.

It speaks the Generic RCS send API, the JioCX send API, an OAuth 2.0 token endpoint and a template
status endpoint (WIRE.md sections 1-5), checks every request against the contract, and posts
delivery reports, reads, clicks and replies back. See docs/simulator.md.

    from providers.simulator import start_simulator
    sim = start_simulator()            # background thread, ephemeral port
    sim.configure(latency_ms=20, error_500=0.1)
    sim.stats(), sim.requests(), sim.reset(), sim.stop()
"""

from .knobs import (
    BASIC_PASSWORD,
    BASIC_USER,
    JIOCX_API_KEY,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    KnobError,
    Knobs,
)
from .runner import SimulatorHandle, serve_forever, start_simulator
from .server import GENERIC_PATH, JIOCX_PATH, TEMPLATES_PATH, TOKEN_PATH

__all__ = [
    "BASIC_PASSWORD",
    "BASIC_USER",
    "GENERIC_PATH",
    "JIOCX_API_KEY",
    "JIOCX_PATH",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "TEMPLATES_PATH",
    "TOKEN_PATH",
    "KnobError",
    "Knobs",
    "SimulatorHandle",
    "serve_forever",
    "start_simulator",
]
