"""`dbt_tasks = "cosmos"`: revenue_nightly renders the dbt project as one task per seed and
model from the manifest (cosmos, LoadMode.DBT_MANIFEST), between `dbt_prepare` and `dbt_finish`,
and its tasks build into the run's candidate version with the run's date as `as_of_date`.

The render test checks the whole graph against the manifest. The run test runs the cosmos tasks
that need no raw data (a seed and the time spine) for real through `airflow dags test`, with
dbt in a subprocess, and marks the others successful: all 70-odd per-model dbt start-ups would
take minutes here (the benchmark step `build_cosmos` measures the full build)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from revwh import publish
from revwh.cosmos_dbt import (
    FINISH_TASK,
    GROUP_ID,
    PREPARE_TASK,
    manifest_has_hubspot,
    manifest_path,
    prepare,
    write_manifest,
)
from revwh.orchestration import DAG_ID, SOURCES, WRITER_POOL
from revwh.settings import DAGS_DIR, load_settings
from revwh.warehouse import connect
from tests.production.conftest import DS

RUN_FOR_REAL = (PREPARE_TASK, f"{GROUP_ID}.sales_process_map_seed",
                f"{GROUP_ID}.metricflow_time_spine_run", FINISH_TASK)


def task_id(unique_id: str) -> str:
    kind, _, name = unique_id.split(".", 2)
    return f"{GROUP_ID}.{name}_{'seed' if kind == 'seed' else 'run'}"


@pytest.fixture(scope="module")
def cosmos_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cosmos")
    env = {"REVWH_HOME": str(root / "revwh"), "REVWH_DBT_TASKS": "cosmos", "REVWH_RETRIES": "0"}
    write_manifest(load_settings(env=env))
    return env


@pytest.fixture(scope="module")
def nightly_dag(cosmos_env: dict[str, str]):
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:  # the DAG file reads its settings when parsed
        for name, value in cosmos_env.items():
            patch.setenv(name, value)
        bag = DagBag(dag_folder=str(DAGS_DIR / "revenue_nightly.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[DAG_ID]


def test_every_seed_and_model_is_a_task_wired_as_in_the_manifest(cosmos_env, nightly_dag):
    manifest = json.loads(manifest_path(load_settings(env=cosmos_env)).read_text())
    nodes = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] in
             ("model", "seed")}
    tasks = nightly_dag.task_dict
    dbt_tasks = {t for t in tasks if t.startswith(f"{GROUP_ID}.")}
    assert dbt_tasks == {task_id(uid) for uid in nodes}  # no tests: they are the gate's job
    # no HubSpot deals had landed when the manifest was written: no HubSpot tasks
    assert not manifest_has_hubspot(load_settings(env=cosmos_env))
    assert not [t for t in dbt_tasks if "hubspot" in t]
    for uid, node in nodes.items():
        upstream = {task_id(d) for d in node["depends_on"].get("nodes", []) if d in nodes}
        assert tasks[task_id(uid)].upstream_task_ids == (upstream or {PREPARE_TASK}), uid
    leaves = {t for t in dbt_tasks if not tasks[t].downstream_task_ids - {FINISH_TASK}}
    assert tasks[FINISH_TASK].upstream_task_ids == leaves | {PREPARE_TASK}
    assert tasks[PREPARE_TASK].upstream_task_ids == {f"extract_{s}" for s in SOURCES}
    assert tasks["quality_gate"].upstream_task_ids == {FINISH_TASK}
    assert tasks["publish_marts"].upstream_task_ids == {FINISH_TASK, "quality_gate"}

    model = tasks[f"{GROUP_ID}.fct_opportunity_run"]
    assert type(model).__name__ == "DbtRunLocalOperator"
    assert model.pool == WRITER_POOL
    assert model.full_refresh == "{{ params.full_refresh }}"
    assert model.dbt_executable_path == str(Path(sys.executable).parent / "dbt")
    assert [i.__name__ for i in model.interceptors] == ["candidate_env"]
    assert model.on_failure_callback  # alerts, as every task


def test_cosmos_tasks_build_into_the_candidate_version(cosmos_env, tmp_path):
    airflow_home = tmp_path / "airflow"
    env = {**os.environ, **cosmos_env, "AIRFLOW_HOME": str(airflow_home),
           "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}"}
    airflow = str(Path(sys.executable).parent / "airflow")
    migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True,
                              text=True, timeout=300, check=False)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    others = "|".join(re.escape(t) + "$" for t in RUN_FOR_REAL)
    run = subprocess.run([airflow, "dags", "test", DAG_ID, DS,
                          "--mark-success-pattern", f"(?!{others}).*"],
                         env=env, capture_output=True, text=True, timeout=900,
                         check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]

    settings = load_settings(env=cosmos_env)
    [version] = [v for v in publish.versions(settings, "marts")]
    assert version.logical_date == DS and version.status == "candidate"
    with connect(settings, read_only=True) as con:
        assert set(con.relations(version.version)) == {"sales_process_map",
                                                       "metricflow_time_spine"}
        assert con.scalar(f'select count(*) from "{version.version}".sales_process_map') > 0
    # the run's date reached dbt as the `as_of_date` var of every cosmos task
    assert re.search(rf"--vars.{{0,20}}as_of_date: '{DS}'", output), output[-3000:]
    # and HubSpot's models stay off, as in the manifest the tasks come from
    assert re.search(r"--vars.{0,400}hubspot_enabled: false", output), output[-3000:]
    # cosmos sent no usage metrics anywhere (it tries unless told not to)
    assert "usage metrics" not in output
    # dbt_finish left the manifest next to the version, for the next build's carry-over
    assert (settings.home / "dbt_target" / version.version / "manifest.json").exists()


def test_prepare_says_when_hubspot_data_has_landed_since_the_manifest(tmp_path, caplog):
    """HubSpot deals that land after the manifest was written stay out of the cosmos build (its
    tasks come from the manifest), and dbt_prepare says how to add them."""
    settings = load_settings(env={"REVWH_HOME": str(tmp_path / "revwh"),
                                  "REVWH_DBT_TASKS": "cosmos"})
    write_manifest(settings)
    with connect(settings) as con:
        con.execute("create schema raw_hubspot")
        con.execute("create table raw_hubspot.deal (deal_id varchar)")
    prepared = prepare(settings, DS, full_refresh=False)
    assert prepared["hubspot_enabled"] is False
    assert "run `python -m revwh.cosmos_dbt` to add them" in caplog.text
