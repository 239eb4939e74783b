"""`trustsim explore`: the page's controls, its runs, what it saves, and the real server.

The page is driven by Streamlit's AppTest (no browser). One slow test starts the real
server on a free loopback port and loads the page in headless Chromium, when installed.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import trustsim
from trustsim.cli import main
from trustsim.explore import HOST, check_port, command_line
from trustsim.explore import controls as ctl
from trustsim.explore.views import TABLE_METRICS
from trustsim.metrics import fmt_interval, label
from trustsim.scenarios import load_scenario

CHROMIUM = Path("/usr/bin/chromium")
# A small market over a short horizon: each page run takes a fraction of a second.
SMALL_SCENARIO = """extends = "real-estate"
name = "small"

[time]
steps = 30

[market]
size = 500
outside_influence = 1.04  # per year: 0.02 a week
"""


@pytest.fixture
def start_file(tmp_path) -> Path:
    path = tmp_path / "start.toml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    return path


def page(target: str | Path):
    """The page for `target` under AppTest, run once, with 3 replications."""
    from streamlit.testing.v1 import AppTest

    script = f"from trustsim.explore.page import main\nmain([{str(target)!r}])\n"
    app = AppTest.from_string(script, default_timeout=180)
    app.run()
    if any(widget.key == "replications" for widget in app.slider):
        app.slider(key="replications").set_value(3).run()
    return app


def metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def table(app):
    return app.dataframe[0].value


def charts(app) -> int:
    return len(app.get("image"))


def assert_no_trouble(app) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


# ---------------------------------------------------------------- controls
def test_every_value_a_control_offers_is_accepted_by_the_schema():
    start = load_scenario("real-estate")
    groups = ctl.all_groups(start)
    assert {g.path[0] for g in groups} == {"market", "stages", "segments"}
    for group in groups:
        for control in group.controls:
            for value in (control.low, control.high):
                if value is None or control.path[-1] == "share":
                    continue  # a share alone at its bound breaks the sum rule, not the field
                _, errors = ctl.resolve(start, {control.path: value}, "probe")
                assert control.path not in errors, (control.key, value, errors)


def test_controls_take_their_help_and_bounds_from_the_schema_fields():
    from trustsim.scenarios.schema import Stage

    control = ctl.control_for(Stage, "affordance", ("stages", "x", "affordance"), 0.2)
    low, high, _, _ = ctl.field_bounds(Stage, "affordance")
    assert (control.low, control.high) == (low, high)
    assert ctl.field_help(Stage, "affordance") in control.help


def test_a_value_close_to_a_strict_bound_stays_within_its_control():
    from trustsim.scenarios.schema import Distribution

    control = ctl.control_for(Distribution, "concentration", ("x",), 0.0005)
    assert control.low <= control.value and control.low > 0


def test_a_market_larger_than_the_page_runs_starts_at_the_page_maximum_as_a_change():
    start = load_scenario("delivery-trial-journey")
    assert start.market.size > ctl.PAGE_MAX_BUYERS
    changes = ctl.changed_values(ctl.all_groups(start), {})
    assert changes == {("market", "size"): ctl.PAGE_MAX_BUYERS}


def test_your_version_is_shown_under_its_own_name_not_the_starts_label():
    start = load_scenario("real-estate")
    assert start.display_name == "Online service as today"
    edited, errors = ctl.resolve(start, {("market", "size"): 3000}, "mine")
    assert not errors and edited.display_name == "mine"
    # As a saved file extending the start shows it: the loader drops the parent's label.
    assert edited.label is None


def test_unmoved_controls_change_nothing():
    start = load_scenario("real-estate")
    assert ctl.changed_values(ctl.all_groups(start), {}) == {}


def test_a_saved_file_extends_its_start_by_a_path_relative_to_itself(tmp_path, start_file):
    saved = tmp_path / "out" / "mine.toml"
    assert ctl.extends_reference(str(start_file), saved) == "../start.toml"
    assert ctl.extends_reference("real-estate", saved) == "real-estate"


def test_a_view_run_scenario_by_scenario_equals_one_run_of_both(start_file):
    from pandas.testing import assert_frame_equal

    from trustsim.explore.views import run_view

    edited = load_scenario(start_file, ["stages.contract.affordance=0.7"], name="edited")
    comparison = load_scenario(start_file)
    view = run_view(edited, comparison, replications=3, seed=4)
    together = trustsim.run([edited, comparison], replications=3, seed=4)
    assert_frame_equal(view.result.summaries, together.summaries)
    assert_frame_equal(view.result.timeseries, together.timeseries)
    assert set(view.differences["scenario"]) == {"edited"}


# ---------------------------------------------------------------- the page (AppTest)
def test_moving_a_slider_reruns_the_page_and_changes_the_numbers(start_file):
    app = page(start_file)
    assert_no_trouble(app)
    before = metrics(app)
    assert charts(app) == 3  # funnel, trust, paired difference
    app.slider(key="stages.contract.affordance").set_value(0.9).run()
    assert_no_trouble(app)
    after = metrics(app)
    assert after["Closed deals"] != before["Closed deals"]
    delta = next(m.delta for m in app.metric if m.label == "Closed deals")
    assert delta not in (None, "+0", "-0"), delta
    assert charts(app) == 3


def test_a_saved_scenario_validates_and_reproduces_the_page_numbers(tmp_path, start_file):
    app = page(start_file)
    app.slider(key="stages.contract.affordance").set_value(0.9).run()
    app.slider(key="segments.investors.control_need.mean").set_value(0.85).run()
    saved = tmp_path / "out" / "mine.toml"
    app.text_input(key="save_path").input(str(saved)).run()
    app.button(key="save").click().run()
    assert_no_trouble(app)
    assert any(str(saved) in s.value for s in app.success)

    written = tomllib.loads(saved.read_text(encoding="utf-8"))
    assert written == {
        "extends": "../start.toml",
        "name": "small-explored",
        "stages": {"contract": {"affordance": 0.9}},
        # A trait's distribution replaces the parent's whole, so it is written whole.
        "segments": {
            "investors": {"control_need": {"mean": 0.85, "dist": "beta", "concentration": 10.0}}
        },
    }
    check = CliRunner().invoke(main, ["scenarios", "validate", str(saved)])
    assert check.exit_code == 0, check.output

    result = trustsim.run([saved], replications=3, seed=0)
    means = result.metric_table(list(TABLE_METRICS)).set_index("metric")
    shown = table(app).set_index("Measure")["small-explored"]
    for metric in TABLE_METRICS:
        row = means.loc[metric]
        expected = fmt_interval(metric, row["mean"], row["ci_low"], row["ci_high"])
        assert shown[label(metric)] == expected, metric


@pytest.mark.parametrize(
    ("key", "value", "message", "where"),
    [
        ("market.detractor_threshold", 0.95, "must not exceed promoter_threshold", "market"),
        ("segments.investors.share", 0.5, "segment shares must sum to 1", "top"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_in_the_side_bar(
    start_file, key, value, message, where
):
    app = page(start_file)
    app.slider(key=key).set_value(value).run()
    assert not app.exception
    errors = [e.value for e in app.sidebar.error]
    assert len(errors) == 1 and message in errors[0], errors
    # A rule of the market table shows in the market's section; the shares rule at the top.
    in_market = [e.value for e in app.sidebar.expander[0].error]
    assert in_market == (errors if where == "market" else [])
    assert not app.metric and charts(app) == 0  # nothing runs on a refused value
    assert "refused" in app.warning[0].value


def test_save_refuses_a_file_that_is_not_toml(tmp_path, start_file):
    app = page(start_file)
    app.text_input(key="save_path").input(str(tmp_path / "mine.txt")).run()
    app.button(key="save").click().run()
    assert not app.exception
    assert "ends in .toml" in app.error[0].value
    assert not (tmp_path / "mine.txt").exists()


def test_a_buyers_journey_is_shown_on_demand(start_file):
    app = page(start_file)
    app.toggle(key="trace_on").set_value(True).run()
    assert not app.exception
    app.number_input(key="buyer").set_value(3).run()
    assert not app.exception
    # Either the journey (story chart and table) or a message naming a buyer who acted.
    story = charts(app) == 4 and len(app.dataframe) == 2
    assert story or "Try buyer" in app.info[0].value


def test_add_to_deck_stores_a_results_folder_that_trustsim_report_draws(tmp_path, start_file):
    app = page(start_file)
    app.slider(key="stages.contract.affordance").set_value(0.9).run()
    app.text_input(key="deck_path").input(str(tmp_path / "deck")).run()
    app.button(key="add_to_deck").click().run()
    assert_no_trouble(app)
    folder = tmp_path / "deck" / "01-small-explored"
    view = json.loads((folder / "view.json").read_text(encoding="utf-8"))
    assert view["charts"] == ["funnel", "trust", "difference"]
    assert view["overrides"] == ["stages.contract.affordance=0.9"]
    assert view["comparison"] == "small" and view["replications"] == 3
    assert tomllib.loads((folder / "scenario.toml").read_text())["extends"] == "../../start.toml"

    deck = tmp_path / "deck.pptx"
    report = CliRunner().invoke(main, ["report", str(folder), "--out", str(deck)])
    assert report.exit_code == 0, report.output
    assert deck.is_file() and "small-explored" in report.output


def test_a_results_folder_opens_read_only_with_its_charts(tmp_path):
    from trustsim.charts import available_kinds, load_results

    trustsim.run(["real-estate", "real-estate-verifiable"], replications=2, steps=10).write(
        tmp_path
    )
    app = page(tmp_path)
    assert_no_trouble(app)
    assert not app.slider and not app.button
    assert charts(app) == len(available_kinds(load_results(tmp_path)))
    assert "Read-only" in app.caption[0].value


def test_an_unexpected_failure_shows_one_message_and_no_traceback(start_file, monkeypatch):
    from trustsim.explore import views

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(views, "run_view", broken)
    app = page(start_file)
    app.number_input(key="seed").set_value(987654).run()  # a run not in the page's cache
    assert not app.exception
    assert "Something went wrong: RuntimeError: disk on fire" in app.error[0].value


# ---------------------------------------------------------------- the command
def test_explore_refuses_an_unknown_scenario_before_starting_a_server():
    result = CliRunner().invoke(main, ["explore", "no-such-scenario"])
    assert result.exit_code == 2
    assert "unknown scenario 'no-such-scenario'" in result.output


def test_explore_refuses_a_port_in_use():
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(trustsim.TrustsimInputError, match=f"--port {port}: already in use"):
            check_port(port)


def test_the_server_is_told_to_stay_on_loopback_and_report_nothing():
    args = command_line("real-estate", 8600)
    assert "--server.address=127.0.0.1" in args
    assert "--browser.gatherUsageStats=false" in args
    assert "--server.headless=true" in args
    assert args[-2:] == ["--", "real-estate"]


def test_only_the_explore_command_loads_streamlit():
    code = "import sys, trustsim.cli; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- the real server
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped with exit code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no answer from {url} within {timeout} s")


def load_in_chromium(url: str, want_charts: int, screenshot: Path | None = None, timeout=180):
    """Load `url` in headless Chromium over the DevTools protocol.

    Returns the page state once `want_charts` chart images are drawn and the app is idle,
    and every URL the page requested (HTTP and WebSocket). Chromium resolves no host but
    127.0.0.1, so a request elsewhere would also fail; it is recorded either way.
    """
    from websockets.sync.client import connect

    profile = Path(tempfile.mkdtemp(prefix="trustsim-chromium-"))
    browser = subprocess.Popen(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1600,2600", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.is_file() and active.read_text().strip()):
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
            targets = json.load(response)
        socket_url = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]
        with connect(socket_url, max_size=None) as devtools:
            return _drive(devtools, url, want_charts, screenshot, timeout)
    finally:
        browser.terminate()
        browser.wait(30)
        shutil.rmtree(profile, ignore_errors=True)


STATE_JS = """(() => {
  const charts = [...document.querySelectorAll('[data-testid="stImage"] img')]
    .filter(img => img.complete && img.naturalWidth > 0);
  return JSON.stringify({
    charts: charts.length,
    running: !!document.querySelector('[data-testid="stStatusWidget"]'),
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    text: document.body ? document.body.innerText : ""});
})()"""


def _drive(devtools, url: str, want_charts: int, screenshot: Path | None, timeout: float):
    import base64

    requested: list[str] = []
    counter = iter(range(1, 1_000_000))

    def call(method: str, **params):
        ident = next(counter)
        devtools.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(devtools.recv())
            event = message.get("method")
            if event == "Network.requestWillBeSent":
                requested.append(message["params"]["request"]["url"])
            elif event == "Network.webSocketCreated":
                requested.append(message["params"]["url"])
            if message.get("id") == ident:
                return message.get("result", {})

    call("Network.enable")
    call("Page.enable")
    call("Page.navigate", url=url)
    state: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = call("Runtime.evaluate", expression=STATE_JS)["result"].get("value")
        state = json.loads(value) if value else {}
        if state.get("charts", 0) >= want_charts and not state["running"]:
            break
        time.sleep(1)
    if screenshot is not None:
        time.sleep(2)  # let the last chart settle into its column
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    return state, requested


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt install chromium)")
def test_the_real_page_draws_its_charts_and_no_request_leaves_loopback(tmp_path, start_file):
    pytest.importorskip("websockets.sync.client", reason="the DevTools client needs websockets")
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "trustsim", "explore", str(start_file), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://{HOST}:{port}"
    try:
        wait_for_health(url, server)
        state, requested = load_in_chromium(url, want_charts=3)
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    assert state.get("charts", 0) >= 3, state
    assert state["exceptions"] == 0 and "Something went wrong" not in state["text"]
    assert "Closed deals" in state["text"]
    assert requested, "the DevTools client recorded no request at all"
    outside = [u for u in requested if urlsplit(u).hostname not in (HOST, None)]
    assert not outside, outside
