"""Start the dashboard: `streamlit run` on the app, headless, replacing this process (so that
signals from a terminal, a supervisor or a container reach Streamlit directly)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

APP = Path(__file__).resolve().with_name("app.py")


def command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless=true", f"--server.address={host}", f"--server.port={port}",
            # no file watcher (nothing is edited in place), no usage statistics sent anywhere
            "--server.fileWatcherType=none", "--browser.gatherUsageStats=false",
            "--global.developmentMode=false", "--client.toolbarMode=minimal"]


def serve(host: str, port: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command(host, port))
