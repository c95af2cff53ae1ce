"""docker-compose.yml against what the project expects. No Docker engine runs here, so the file
is checked as data: services, images, commands, health checks, volumes, profiles, secrets."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "docker" / "env.example"
AIRFLOW_SERVICES = {"airflow-apiserver": ["airflow", "api-server"],
                    "airflow-scheduler": ["airflow", "scheduler"],
                    "airflow-dag-processor": ["airflow", "dag-processor"],
                    "airflow-triggerer": ["airflow", "triggerer"],
                    "airflow-worker": ["airflow", "celery", "worker"]}
PROJECT_IMAGE = "${REVWH_IMAGE:-revwh:latest}"
SECRETS = ("AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET",
           "AIRFLOW_ADMIN_PASSWORD", "WAREHOUSE_DB_PASSWORD", "REVWH_BI_PASSWORD")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def test_services_images_and_commands(services: dict):
    expected = {*AIRFLOW_SERVICES, "airflow-init", "airflow-db", "redis", "dashboard",
                "warehouse-db"}
    assert set(services) == expected
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["command"] == command, name
        assert service["image"] == PROJECT_IMAGE, name
        assert service["build"] == {"context": ".", "dockerfile": "docker/Dockerfile"}
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
            "postgresql+psycopg2://airflow:${AIRFLOW_DB_PASSWORD")
        assert "@airflow-db:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__BROKER_URL"].endswith("@redis:6379/0")
        # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3, which the image does not have
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
        assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "false"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/")
        # they start after the init job, on a healthy database and broker
        deps = service["depends_on"]
        assert deps["airflow-init"] == {"condition": "service_completed_successfully"}
        assert deps["airflow-db"] == {"condition": "service_healthy"}
        assert deps["redis"] == {"condition": "service_healthy"}
    assert services["airflow-worker"]["environment"]["AIRFLOW__CELERY__POOL"] == "solo"
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {
        "condition": "service_healthy"}
    assert services["airflow-apiserver"]["ports"] == ["${AIRFLOW_PORT:-8080}:8080"]
    assert services["airflow-db"]["image"].startswith("postgres:")
    assert services["warehouse-db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["dashboard"]["image"] == PROJECT_IMAGE
    assert services["dashboard"]["command"][:2] == ["revwh", "dashboard"]


def test_init_job_migrates_creates_the_admin_and_the_pool(services: dict):
    init = services["airflow-init"]
    assert init["command"] == ["bash", "/opt/revwh/docker/init.sh"]
    assert init["restart"] == "no"
    assert init["environment"]["AIRFLOW_ADMIN_PASSWORD"].startswith("${AIRFLOW_ADMIN_PASSWORD:?")
    script = (ROOT / "docker" / "init.sh").read_text()
    for step in ("airflow db migrate", "airflow pools set revwh_warehouse_writer 1",
                 "AIRFLOW_ADMIN_PASSWORD", "python -m revwh.cosmos_dbt",
                 "python -m revwh.bi_access"):
        assert step in script
    assert subprocess.run(["bash", "-n", str(ROOT / "docker" / "init.sh")], check=False).returncode == 0


def test_health_checks_on_every_service(services: dict):
    expected = {
        "airflow-apiserver": "http://localhost:8080/api/v2/version",
        "airflow-scheduler": "http://localhost:8974/health",
        "airflow-dag-processor": "--job-type DagProcessorJob",
        "airflow-triggerer": "--job-type TriggererJob",
        "airflow-worker": "inspect ping",
        "airflow-init": "db check",
        "airflow-db": "pg_isready",
        "warehouse-db": "pg_isready",
        "redis": "redis-cli",
        "dashboard": "http://localhost:8501/_stcore/health",
    }
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert expected[name] in " ".join(check["test"]), name
        assert check.get("interval") and check.get("retries"), name
    # the scheduler serves the health endpoint the check calls
    assert services["airflow-scheduler"]["environment"][
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_volumes_and_profiles(compose: dict, services: dict):
    assert set(compose["volumes"]) == {"revwh-home", "airflow-db", "airflow-logs",
                                       "airflow-auth", "warehouse-db"}
    # the DuckDB warehouse lives on revwh-home, shared by every Airflow service
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        assert "revwh-home:/data/revwh" in services[name]["volumes"], name
        assert services[name]["environment"]["REVWH_HOME"] == "/data/revwh"
    # the dashboard reads the published replica and may not write
    assert services["dashboard"]["volumes"] == ["revwh-home:/data/revwh:ro"]
    assert services["airflow-db"]["volumes"] == ["airflow-db:/var/lib/postgresql/data"]
    # the PostgreSQL warehouse is the alternative profile; everything else starts by default
    assert services["warehouse-db"]["profiles"] == ["postgres"]
    assert services["warehouse-db"]["volumes"] == ["warehouse-db:/var/lib/postgresql/data"]
    assert [n for n, s in services.items() if "profiles" in s] == ["warehouse-db"]
    assert "@warehouse-db:5432/warehouse" in services["airflow-worker"]["environment"][
        "REVWH_POSTGRES_DSN"]


def test_secrets_come_from_env_files_and_none_is_committed(services: dict):
    text = COMPOSE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))  # $${X}: the container's own
    example = env_example()
    # every variable compose interpolates is documented in the template
    assert used <= set(example), used - set(example)
    for secret in SECRETS:
        assert example[secret] == "change-me", secret
    for name in (*AIRFLOW_SERVICES, "airflow-init", "dashboard"):
        assert services[name]["env_file"] == "docker/revwh.env", name
    # required secrets fail the deploy when unset instead of defaulting to something guessable
    for secret in ("AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY",
                   "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"):
        assert f"${{{secret}:?" in text, secret
    # no literal password in the compose file: every one is interpolated
    for match in re.finditer(r"^\s*[A-Z_]*(PASSWORD|SECRET|KEY)[A-Z_]*(?<!_FILE):\s*(\S+)",
                             text, re.MULTILINE):
        assert match.group(2).startswith("${"), match.group(0)
    # real env files are ignored by git; the template is tracked
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/revwh.env"], cwd=ROOT,
                             check=False)
    assert ignored.returncode == 0
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "docker/env.example"],
                             cwd=ROOT, capture_output=True, check=False)
    assert tracked.returncode == 0


def test_image_is_built_from_the_lock_file():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert "-r requirements.lock" in dockerfile
    assert "--no-deps -e ." in dockerfile
    for folder in ("revwh", "forecasting", "dags", "dbt_project", "expectations"):
        assert f"COPY {folder} ./{folder}" in dockerfile
        assert (ROOT / folder).is_dir()


def test_compose_file_path_is_the_documented_one():
    assert Path(COMPOSE).name == "docker-compose.yml"
    readme = (ROOT / "README.md").read_text()
    assert "docker compose --env-file docker/revwh.env up -d" in readme
