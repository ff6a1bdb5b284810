"""The one `streamlit run` server helper, and the real-browser test's Chromium page checks.

The server runs `app.py` as a user would start it, on a free loopback port,
with its own `SEQLAB_HOME`. Chromium is Debian's (`/usr/bin/chromium`), driven
by Playwright's Python package; Playwright's own browser download is never
used (the test machines are offline).

Both the browser tests and `bench/ui_latency.py` start their servers with
`StreamlitServer` from here. It lives in tests/ rather than bench/ because
tests/ is already importable as the `tests` package (the tests import
`tests.browser_support`, with the repository root on `sys.path`), while
bench/ is a folder of scripts that nothing imports; the benchmark already
puts the repository root on `sys.path` to import seqlab, so it imports this
module the same way and needs no path of its own.

The browser test files share their fixtures (tests/conftest.py: `browser`,
`server_home`, `server`, `page`), which open tabs with `new_page` and keep a
failed test's picture with `report_failure`. Importing this module takes only
the standard library, so the benchmark needs neither pytest nor Playwright.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Full-page screenshots of the browser tests (git-ignored), for people to look at.
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_SECONDS = 60
# Streamlit's own markers (1.67): the app root tells whether the script is running.
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SKELETON = '[data-testid="stSkeleton"]'
EXCEPTION = '[data-testid="stException"]'
ERROR_BOX = '[data-testid="stAlertContentError"]'
MAIN = '[data-testid="stMain"]'
# A chart is drawn once vega-embed has put its canvas or svg (class "marks") in place.
CHART = '[data-testid="stVegaLiteChart"]'
DRAWN_CHART = f"{CHART} .marks"
# Full-page screenshots grow the window to the page's height, up to this many pixels.
MAX_SCREENSHOT_HEIGHT = 8000


def require_chromium() -> str:
    """Returns Chromium's path, failing (not skipping) with the fix when it is missing."""
    if not CHROMIUM.exists():
        raise AssertionError(
            f"{CHROMIUM} not found: the real-browser test needs Debian's Chromium. "
            f"Install it with `apt-get install chromium` (scripts/test.sh, the README's test "
            f"command, does this), then rerun. Do not run `playwright install`."
        )
    return str(CHROMIUM)


class ServerError(RuntimeError):
    """`streamlit run` exited, or did not answer in time (the message holds its log)."""


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` in its own process group, with its own SEQLAB_HOME.

    Use `start()` / `stop()`, or `with StreamlitServer(...) as server:`.
    After `start()`, `ready_s` holds the seconds from launch to the first
    healthy answer.

    Args:
        root: the repository folder (holding app.py and pages/).
        home: the run store folder the app (and the worker it starts) uses.
        log_path: where the server's output goes (read it when a test fails);
            None discards it (`log()` then holds only the workers' logs).
    """

    def __init__(self, root: Path, home: Path, log_path: Path | None = None):
        self.root, self.home, self.log_path = root, home, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.ready_s: float | None = None

    def __enter__(self) -> "StreamlitServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "StreamlitServer":
        """Starts the server and waits until `/_stcore/health` answers.

        Raises:
            ServerError: the server exited or did not answer in time (with its log).
        """
        env = dict(os.environ, SEQLAB_HOME=str(self.home), TF_CPP_MIN_LOG_LEVEL="2")
        command = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true", "--server.port", str(self.port),
            "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            # No file watching: an edit during the test would put a "File change" banner on screenshots.
            "--server.fileWatcherType", "none",
        ]
        started = time.perf_counter()
        if self.log_path is None:
            output = subprocess.DEVNULL
        else:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = open(self.log_path, "wb")
        try:
            # Its own session: stop() ends the server and anything it forked in one signal.
            self.process = subprocess.Popen(command, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if output is not subprocess.DEVNULL:
                output.close()
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"streamlit exited with status {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        self.ready_s = time.perf_counter() - started
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"streamlit did not answer on {self.url} within "
                          f"{SERVER_START_SECONDS} s:\n{self.log()}")

    def log(self) -> str:
        """Returns the server's output so far (and the workers' logs)."""
        parts = [self.log_path.read_text(errors="replace")
                 if self.log_path is not None and self.log_path.exists() else ""]
        for worker_log in sorted((self.home / "logs").glob("*.log")):
            parts.append(f"--- {worker_log.name}\n{worker_log.read_text(errors='replace')}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Ends the server's process group and every worker process of this store."""
        worker_pids = self._worker_pids()
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Workers run in their own sessions (they outlive a closed tab), so the
        # server's group does not include them.
        for pid in worker_pids | self._worker_pids():
            _signal_group(pid, signal.SIGKILL)

    def _worker_pids(self) -> set[int]:
        """Pids of the store's registered workers that are still ours (SEQLAB_HOME matches)."""
        if not (self.home / "runs.db").exists():
            return set()
        from seqlab.store import RunStore

        try:
            pids = RunStore(self.home).live_workers(stale_after=10**9)
        except Exception:  # a half-written store at teardown must not hide the test's result
            return set()
        marker = f"SEQLAB_HOME={self.home}".encode()
        return {pid for pid in pids if marker in _environment(pid)}


def _environment(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


# ------------------------------------------------------------------ pages
def new_page(browser):
    """Returns a tab in a new browser context: no cookies, no session, as a link opened elsewhere.

    The context accepts downloads; the page waits up to 60 s by default and
    keeps its JavaScript's uncaught errors (a chart vega cannot draw, say) in
    `page.script_errors`.

    Args:
        browser: a Playwright `Browser` (the tests' `browser` fixture).
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    return page


def report_failure(page, test_name: str, server: StreamlitServer) -> None:
    """Keeps a failed test's last picture (in SCREENSHOTS) and prints it with the server's log's end."""
    name = re.sub(r"[^\w.-]+", "_", test_name)
    picture = SCREENSHOTS / f"failed-{name}.png"
    try:
        full_page_screenshot(page, picture)
    except Exception as error:  # a crashed tab must not hide the test's own failure
        picture = f"none ({error})"
    print(f"screenshot: {picture}\nserver log:\n{server.log()[-5000:]}")


def wait_for_app(page, timeout_ms: int = 90_000) -> None:
    """Waits until the page's script has finished and every placeholder is filled in."""
    page.wait_for_selector(APP_IDLE, timeout=timeout_ms)
    page.wait_for_selector(SKELETON, state="detached", timeout=timeout_ms)


def wait_for_charts(page, count: int = 1, timeout_ms: int = 60_000) -> None:
    """Waits until at least `count` charts on the page are drawn."""
    page.wait_for_function(
        "([chart, count]) => [...document.querySelectorAll(chart)]"
        ".filter(element => element.querySelector('.marks')).length >= count",
        arg=[CHART, count], timeout=timeout_ms,
    )


def drawn_charts(page) -> list[dict]:
    """Returns what each drawn chart on the page shows, in page order.

    Each item: `renderer` ("svg" or "canvas"), `lines` / `rects` / `points`
    / `areas` (how many line, rect, point/symbol and area marks vega drew),
    `labels` (the axis tick labels) and `legend_labels` (the legends' entries,
    as drawn: a label vega cut ends in "…"). Counts and labels are read from svg; a canvas chart
    reports only its renderer. Streamlit 1.67 draws small charts as svg.
    """
    return page.evaluate(
        """chart => [...document.querySelectorAll(chart)]
            .filter(element => element.querySelector('.marks'))
            .map(element => ({
                renderer: element.querySelector('.marks').tagName.toLowerCase(),
                lines: element.querySelectorAll('.mark-line path').length,
                rects: element.querySelectorAll('.mark-rect path').length,
                points: element.querySelectorAll('.mark-symbol path, .mark-point path').length,
                areas: element.querySelectorAll('.mark-area path').length,
                labels: [...element.querySelectorAll('.role-axis-label text')].map(t => t.textContent),
                legend_labels: [...element.querySelectorAll('.role-legend-label text')].map(t => t.textContent),
            }))""",
        CHART,
    )


def page_problems(page) -> list[str]:
    """Returns what is wrong on the page: exceptions, error boxes, tracebacks."""
    problems = [f"exception: {text}" for text in page.locator(EXCEPTION).all_inner_texts()]
    problems += [f"error box: {text}" for text in page.locator(ERROR_BOX).all_inner_texts()]
    main_text = page.locator(MAIN).inner_text()
    if "Traceback" in main_text:
        problems.append(f"'Traceback' in the page text:\n{main_text}")
    return problems


def full_page_screenshot(page, path: Path) -> None:
    """Saves the whole page (Streamlit scrolls inside stMain, so the window grows to fit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    height = page.evaluate(f"() => document.querySelector('{MAIN}').scrollHeight")
    page.set_viewport_size({"width": viewport["width"],
                            "height": min(max(height, viewport["height"]), MAX_SCREENSHOT_HEIGHT)})
    try:
        # Charts re-measure their width on resize; let that land before the picture.
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)
