"""A real Airflow deployment in subprocesses, as docker-compose.yml runs it but without
containers: api-server, dag-processor, scheduler (LocalExecutor or CeleryExecutor) and Celery
workers, with the metadata database on PostgreSQL and the project's own DAG folder.

Runs are triggered through the REST API and watched in the metadata database. The scheduler
creates no runs on its own (`use_job_schedule = False`): the nightly cron would otherwise start a
run for today next to the one a test triggers, and so would the marts Asset for the forecast DAG
(the asset event and the forecast DAG's queue entry are still recorded and checked).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from revwh.settings import DAGS_DIR

AIRFLOW = str(Path(sys.executable).parent / "airflow")
FINISHED = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AirflowStack:
    home: Path
    metadata_dsn: str            # postgresql://... of a fresh, empty database
    env_extra: dict[str, str]    # the project's settings (REVWH_*) for every Airflow process
    queue: str                   # Celery queue of this stack: workers of other runs never see it
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def env(self, executor: str = "LocalExecutor") -> dict[str, str]:
        sql = self.metadata_dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": f"test-secret-{self.queue}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
            # SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3; the project has psycopg2
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sql,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            # as docker-compose.yml: a task in a prefork pool child is a daemonic process, which
            # may not start the forecast's process pool
            "AIRFLOW__CELERY__POOL": "solo",
            **self.env_extra,
        }

    def airflow(self, *args: str, timeout: float = 300) -> None:
        out = subprocess.run([AIRFLOW, *args], env=self.env(), capture_output=True, text=True,
                             timeout=timeout, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{out.stdout[-2000:]}"
                               f"\n{out.stderr[-3000:]}")

    def start(self, name: str, *args: str, executor: str = "LocalExecutor") -> None:
        log = (self.home / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([AIRFLOW, *args], env=self.env(executor),
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def stop(self, *names: str) -> None:
        """SIGTERM to each process group (its task processes too), all at once; SIGKILL to
        those still running after 30 s."""
        procs = [p for p in (self.procs.pop(n, None) for n in names) if p and p.poll() is None]
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop_all(self) -> None:
        self.stop(*self.procs)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.home / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited ({proc.returncode}):\n"
                                   + self.log_tail(name))

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg2.connect(self.metadata_dsn) as con, con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def wait_until(self, what: str, check, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            found = check()
            if found:
                return found
            time.sleep(every)
        raise TimeoutError(f"{what} not reached within {timeout:.0f} s")

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v2{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def wait_api(self, timeout: float = 180) -> None:
        def up():
            try:
                return self.api("GET", "/monitor/health")
            except OSError:
                return None
        self.wait_until("the api-server answering", up, timeout)

    def wait_dags(self, *dag_ids: str, timeout: float = 180) -> None:
        self.wait_until(f"{dag_ids} parsed", lambda: len(self.query(
            "select dag_id from serialized_dag where dag_id = any(%s)", (list(dag_ids),)))
            == len(dag_ids), timeout)

    def trigger(self, dag_id: str, logical_date: str) -> str:
        run = self.api("POST", f"/dags/{dag_id}/dagRuns",
                       {"logical_date": f"{logical_date}T00:00:00Z", "conf": {}})
        return run["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, str]:
        """Wait for a run to finish; returns its state and every task's state."""
        self.wait_until(f"{dag_id} {run_id} finished", lambda: self.query(
            "select 1 from dag_run where dag_id = %s and run_id = %s and state = any(%s)",
            (dag_id, run_id, list(FINISHED))), timeout, every=2.0)
        states = dict(self.query("select task_id, state from task_instance "
                                 "where dag_id = %s and run_id = %s", (dag_id, run_id)))
        (run_state,) = self.query("select state from dag_run where dag_id = %s and run_id = %s",
                                  (dag_id, run_id))[0]
        return {"run": run_state, **states}
