"""`trustsim explore`: a page in the browser where a strategist moves the sliders.

Built on Streamlit: it renders with no request leaving the machine, and its `AppTest`
drives the widgets in tests without a browser. Mesa's own SolaraViz loads its JavaScript
from a CDN and showed a blank page offline; Panel renders offline too, but Streamlit's
test driver and its plain script model (the page is a function of the controls) decided
it. The server listens on 127.0.0.1 only, with usage statistics off.

Streamlit is imported only here and in the page, so other commands never load it.
"""

from __future__ import annotations

import socket
from pathlib import Path

from trustsim.errors import TrustsimInputError

HOST = "127.0.0.1"
APP = Path(__file__).with_name("app.py")
# Fixed at launch, above any config.toml: loopback only, nothing reported, no browser
# opened from a server process, no file watching, no tracebacks in the page.
SERVER_OPTIONS = {
    "server.address": HOST,
    "server.headless": True,
    "browser.gatherUsageStats": False,
    "browser.serverAddress": HOST,
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "global.developmentMode": False,
}


def check_port(port: int) -> None:
    """Refuse a port that is taken on the loopback address, before Streamlit starts.

    Raises:
        TrustsimInputError: the port is in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            raise TrustsimInputError(
                f"--port {port}: already in use on {HOST}; choose another, e.g. --port {port + 1}."
            ) from None


def command_line(target: str, port: int) -> list[str]:
    """The `streamlit run` arguments serving the page for `target` on `port`."""
    flags = [f"--{key}={_flag(value)}" for key, value in SERVER_OPTIONS.items()]
    return ["run", str(APP), *flags, f"--server.port={port}", "--", target]


def _flag(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def serve(target: str, port: int) -> None:
    """Serve the page for `target` (a scenario or a results folder) until Ctrl-C."""
    from streamlit.web import cli as streamlit_cli

    check_port(port)
    print(f"trustsim explore: open http://{HOST}:{port} (Ctrl-C stops it)", flush=True)
    streamlit_cli.main(args=command_line(target, port), prog_name="streamlit")
