"""Settings for the callback benchmark's gunicorn: the project's, with a URLconf that adds a bare view."""

from rcsconnect.settings import *  # noqa: F403

ROOT_URLCONF = "bench.callbacks_urls"
