"""Shared fixtures: real promtool / Prometheus on 127.0.0.1, skipped only when the
binary is missing locally (CI sets SLOFORGE_REQUIRE_TOOLS=1 and installs them)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# the peers' specs and generated rules (Sloth, Pyrra, OpenSLO), copied verbatim from ../shared/anchors with
# their SOURCE.txt (upstream, commit, licence): compatibility tests must run from any clone
ANCHORS = REPO / "tests" / "anchors"


# a small valid spec the error and lint tests edit; they pin its line numbers
BASE_SPEC = """\
apiVersion: sloforge/v1
service: svc
metrics:
  - name: http_requests_total
    type: counter
    labels: [code, route]
  - name: http_request_duration_seconds
    type: histogram
    labels: [route]
    buckets: {exponential: {start: 0.5, factor: 2, count: 10}}
slos:
  - name: avail
    objective: 99.9
    sli:
      events:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
"""


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m sloforge ARGS`` with colours off."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS")}
    env.update(NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "sloforge", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


# Debian package of each binary the tests run
PACKAGES = {
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "vmalert": "victoria-metrics",
    "victoria-metrics": "victoria-metrics",
    "chromium": "chromium",
}


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path:
        return path
    if os.environ.get("SLOFORGE_REQUIRE_TOOLS"):
        pytest.fail(f"{binary} is required in CI but not installed")
    package = PACKAGES.get(binary, "prometheus")
    pytest.skip(f"{binary} not installed (Debian package '{package}'); CI installs it")


@pytest.fixture
def promtool() -> str:
    return need("promtool")


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate a server started by a test; kill it if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    """A real Prometheus on 127.0.0.1 over a temp data dir; restartable to load blocks."""

    def __init__(self, data_dir: Path, config: Path):
        self.data_dir = data_dir
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.data_dir.parent / "prometheus.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                need("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=3650d",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + (self.data_dir.parent / "prometheus.log").read_text())
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()

    def load_blocks(self, blocks_dir: Path) -> None:
        for block in sorted(p for p in blocks_dir.iterdir() if p.is_dir()):
            shutil.copytree(block, self.data_dir / block.name)
        self.restart()

    def query(self, expr: str, at: float, stats: bool = False) -> dict:
        params = {"query": expr, "time": at}
        if stats:
            params["stats"] = "all"
        r = httpx.get(self.url + "/api/v1/query", params=params, timeout=120)
        r.raise_for_status()
        return r.json()

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        r = httpx.get(
            self.url + "/api/v1/query_range",
            params={"query": expr, "start": start, "end": end, "step": step},
            timeout=300,
        )
        r.raise_for_status()
        return r.json()["data"]["result"]


def backfilled_prometheus(tmp: Path, openmetrics: Path) -> PrometheusServer:
    """Backfill an OpenMetrics file into a fresh data dir and start Prometheus on it."""
    data = tmp / "data"
    data.mkdir()
    subprocess.run(
        [
            need("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=486h",
            str(openmetrics),
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    config = tmp / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    server = PrometheusServer(data, config)
    server.start()
    return server


@contextlib.contextmanager
def victoria_metrics(tmp: Path, data) -> Iterator[str]:  # noqa: ANN001 - a SeriesSet
    """A real VictoriaMetrics on 127.0.0.1 over a temp data dir holding ``data`` (imported as Prometheus text with
    ms timestamps, awaited until every sample is searchable); yields its URL."""
    from sloforge.evaluate.series import render

    binary = need("victoria-metrics")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "vm.log", "wb")  # noqa: SIM115 - closed below
    args = [f"-storageDataPath={tmp / 'vm-data'}", f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y"]
    proc = subprocess.Popen([binary, *args, "-search.disableCache", "-loggerLevel=ERROR"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("victoria-metrics did not start: " + (tmp / "vm.log").read_text())
            time.sleep(0.1)
        text = "".join(
            f"{render(s.labels)} {v!r} {t}\n" for s in data for t, v in zip(s.t.tolist(), s.v.tolist(), strict=True)
        )
        httpx.post(url + "/api/v1/import/prometheus", content=text, timeout=30).raise_for_status()
        httpx.get(url + "/internal/force_flush", timeout=30).raise_for_status()
        span = data.time_range()
        params = {"match[]": '{__name__=~".+"}', "start": span[0] // 1000 - 60, "end": span[1] // 1000 + 60}
        deadline = time.monotonic() + 15
        while (
            sum(
                len(json.loads(x)["values"])
                for x in httpx.get(url + "/api/v1/export", params=params, timeout=30).text.splitlines()
            )
            != data.samples()
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("victoria-metrics did not show the imported samples")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)
        log.close()
