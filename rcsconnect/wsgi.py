import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rcsconnect.settings")

from rcsconnect.handlers import get_application  # noqa: E402 - after the settings module is named

application = get_application()
