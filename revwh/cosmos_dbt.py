"""dbt as one Airflow task per model (astronomer-cosmos): the setting `dbt_tasks = "cosmos"`.

The default (`dbt_tasks = "build"`) runs the whole project as one `dbt build` task. With cosmos a
data engineer sees every seed and model as its own task and can retry one of them. The build
means the same in both: `dbt_prepare` registers the candidate version and carries the
incremental models over (as `pipeline.build` does), every cosmos task runs dbt as a subprocess
into that schema with the profile, environment and vars of `revwh.transform` (`dbt_env`,
`dbt_vars`: the run's date is `as_of_date`), tests are left to the quality gate, and `dbt_finish`
returns `{"version", "relations"}` like `dbt_build`, so the gate and publish that follow do not
change.

Cosmos renders the graph from a dbt manifest (LoadMode.DBT_MANIFEST): parsing a DAG file must not
run dbt. Write it at deploy time, and again whenever the dbt project changes:

    python -m revwh.cosmos_dbt      # dbt parse -> <home>/dbt_target/cosmos_manifest/manifest.json

HubSpot's models are in it when HubSpot deals had landed by then (revwh.transform.hubspot_landed);
the tasks build as the manifest says, and `dbt_prepare` warns when HubSpot data has landed since:
write the manifest again to add them.

The candidate schema is known only at run time, so a cosmos interceptor sets each task's dbt
environment and vars then, on the worker; no connection secret is written into the serialized
DAG. Every cosmos task is its own dbt process, which parses the project again (the candidate
schema is part of the profile): that, per model, is the price of the per-model view.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from revwh.orchestration import WRITER_POOL
from revwh.settings import DBT_PROJECT_DIR, Settings, SettingsError

log = logging.getLogger(__name__)

GROUP_ID = "dbt"
PREPARE_TASK = "dbt_prepare"
FINISH_TASK = "dbt_finish"
MANIFEST_DIR = "cosmos_manifest"  # under <home>/dbt_target, next to the versions' targets
DBT = str(Path(sys.executable).parent / "dbt")


def manifest_path(settings: Settings) -> Path:
    return settings.home / "dbt_target" / MANIFEST_DIR / "manifest.json"


def write_manifest(settings: Settings) -> Path:
    """`dbt parse` the project into `manifest_path` (the graph cosmos renders)."""
    from revwh.transform import DbtFailed, dbt_env, dbt_vars, hubspot_landed
    from revwh.warehouse import WarehouseError

    target = manifest_path(settings).parent
    try:
        with_hubspot = hubspot_landed(settings)
    except WarehouseError as exc:  # a deploy may write the manifest before the warehouse is up
        log.warning("%s: the manifest leaves HubSpot's models out; write it again once HubSpot "
                    "deals have landed", exc)
        with_hubspot = False
    variables = dbt_vars(settings, date.today().isoformat(), hubspot_enabled=with_hubspot)
    proc = subprocess.run(
        [DBT, "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target),
         "--vars", json.dumps(variables)],
        env={**os.environ, **dbt_env(settings, MANIFEST_DIR)}, cwd=DBT_PROJECT_DIR,
        capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise DbtFailed(f"dbt parse failed: {tail}")
    return manifest_path(settings)


def prepare(settings: Settings, ds: str, full_refresh: bool) -> dict:
    """Write the contact address hashes, register the candidate version and carry the
    incremental models over into it."""
    from revwh import publish
    from revwh.contact_hashes import write_contact_address_hashes
    from revwh.transform import CarryOver, carry_over, drop_state, hubspot_landed, load_manifest

    with_hubspot = manifest_has_hubspot(settings)
    if hubspot_landed(settings) and not with_hubspot:
        log.warning("HubSpot deals have landed but the cosmos manifest has no HubSpot models, so "
                    "they stay out of the marts: run `python -m revwh.cosmos_dbt` to add them")
    write_contact_address_hashes(settings)
    previous = None if full_refresh else publish.current(settings, "marts")
    version = publish.new_version(settings, "marts", ds)
    if previous is None:  # a full build, state models included (whatever a failed build left)
        drop_state(settings, load_manifest(manifest_path(settings)))
    plan = carry_over(settings, version, previous.version) if previous else CarryOver()
    return {"version": version, "full_refresh": full_refresh, "carried_over": plan.models,
            "carried_generations": plan.generations,
            "changed_since": str(previous.built_at) if plan.models else None,
            "continued_as_of": previous.logical_date if plan.models else None,
            "hubspot_enabled": with_hubspot}


def manifest_has_hubspot(settings: Settings) -> bool:
    """Whether the cosmos manifest was written with HubSpot's models (its tasks build them)."""
    nodes = json.loads(manifest_path(settings).read_text())["nodes"]
    return any(n.get("package_name") == "revwh" and n["name"].startswith("stg_hubspot__")
               for n in nodes.values())


def finish(settings: Settings, prepared: dict) -> dict:
    """What `dbt_build` returns, for the gate and publish: the version and its mart relations.
    The manifest goes next to the version, where the next build's carry-over looks for it."""
    from revwh.transform import DbtResult, mart_models

    target = settings.home / "dbt_target" / prepared["version"]
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(manifest_path(settings), target / "manifest.json")
    relations = mart_models(DbtResult(command="cosmos", success=True, target_path=target))
    return {**prepared, "relations": relations}


def candidate_env(context, operator) -> None:
    """Cosmos interceptor, run on the worker before each dbt command: the dbt environment and
    vars of revwh.transform for this run's candidate schema (from `dbt_prepare`) and date."""
    from revwh.settings import load_settings
    from revwh.transform import dbt_env, dbt_vars

    settings = load_settings()
    prepared = context["ti"].xcom_pull(task_ids=PREPARE_TASK)
    operator.env = {**(operator.env or {}), **dbt_env(settings, prepared["version"])}
    operator.vars = dbt_vars(settings, context["ds"], prepared.get("changed_since"),
                             hubspot_enabled=prepared.get("hubspot_enabled", False),
                             carried_generations=prepared.get("carried_generations"),
                             continued_as_of=prepared.get("continued_as_of"))


def _step(fn, *args):
    """Run a step with fresh settings; failures a retry cannot fix fail the task at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from revwh.pipeline import permanent_errors
    from revwh.settings import load_settings

    try:
        return fn(load_settings(), *args)
    except permanent_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def dbt_task_group(settings: Settings):
    """The dbt project as a cosmos task group: one task per seed and model, no tests."""
    import cosmos.settings
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    # cosmos reports usage to a third party unless configured not to; never from this project
    # (here for every process that parses the DAG; AIRFLOW__COSMOS__ENABLE_TELEMETRY=False in
    # docker-compose.yml covers the scheduler's listeners too)
    cosmos.settings.enable_telemetry = False

    manifest = manifest_path(settings)
    if not manifest.exists():
        raise SettingsError(f"dbt_tasks=cosmos needs the dbt manifest {manifest}: run "
                            "`python -m revwh.cosmos_dbt` (deploy step), or set "
                            "REVWH_DBT_TASKS=build")
    return DbtTaskGroup(
        group_id=GROUP_ID,
        project_config=ProjectConfig(dbt_project_path=DBT_PROJECT_DIR, manifest_path=manifest,
                                     project_name="revwh", install_dbt_deps=False),
        profile_config=ProfileConfig(profile_name="revwh", target_name=settings.target,
                                     profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.SUBPROCESS,
                                         dbt_executable_path=DBT),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST,
                                   test_behavior=TestBehavior.NONE, emit_datasets=False),
        operator_args={"pool": WRITER_POOL, "full_refresh": "{{ params.full_refresh }}",
                       "interceptors": [candidate_env]},
    )


def cosmos_build(settings: Settings):
    """`dbt_prepare` >> the cosmos task group >> `dbt_finish`, in the DAG being defined.
    Returns (first task, XComArg of `dbt_finish`): upstream tasks go before the first, and the
    XComArg stands where `dbt_build()`'s would."""
    from airflow.sdk import task

    @task(task_id=PREPARE_TASK, pool=WRITER_POOL)
    def dbt_prepare(ds=None, params=None):
        return _step(prepare, ds, bool(params["full_refresh"]))

    @task(task_id=FINISH_TASK)
    def dbt_finish(prepared: dict):
        return _step(finish, prepared)

    prepared = dbt_prepare()
    models = dbt_task_group(settings)
    built = dbt_finish(prepared)
    prepared >> models >> built
    return prepared, built


if __name__ == "__main__":
    from revwh.settings import load_settings

    print(write_manifest(load_settings()))
