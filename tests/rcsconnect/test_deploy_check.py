"""`manage.py check --deploy` is clean with the documented production variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_has_no_warnings(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION"))
    }
    env.update(
        {
            "RCS_ENV_FILE": str(tmp_path / "none.env"),  # ignore the developer's .env
            "DJANGO_SETTINGS_MODULE": "rcsconnect.settings",
            "DJANGO_SECRET_KEY": "x" * 20 + "q7R#kP2!zLm9@vW4$tY6^nB8&cD1*eF3(gH5)jK0-",
            "DJANGO_ALLOWED_HOSTS": "rcs.example.com",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
