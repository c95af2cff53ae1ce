"""dbt runs (revwh.transform): a build's dbt process starts while the carried-over models are
prepared, and waits for them; it exits quickly and cleanly."""

from __future__ import annotations

from pathlib import Path

import duckdb

from revwh.dbt_runner import PARSED_MANIFEST
from revwh.dbt_templates import FILE_NAME as KEPT_JINJA
from revwh.settings import load_settings
from revwh.transform import start_dbt_commands
from tests.conftest import make_home


def test_a_dbt_run_waiting_for_go_runs_nothing_when_cancelled(tmp_path: Path):
    """A run started with wait_for_go imports dbt and parses the project without opening the
    warehouse; cancelled, it exits without running its command, and says so."""
    settings = load_settings(env=make_home(tmp_path).env)
    run = start_dbt_commands(settings, "cand", [["build"]], "2025-02-01", wait_for_go=True)
    run.cancel()
    assert run.proc.returncode == 3
    [result] = run.results()
    assert not result.success
    assert "cancelled before running anything" in result.nodes[0]["message"]
    assert not settings.warehouse_path.exists()  # dbt never opened (so never created) it


def test_a_dbt_run_exits_cleanly_after_running(tmp_path: Path):
    """The runner skips the interpreter's teardown (revwh.dbt_runner.close_and_exit) but still
    closes the DuckDB file (no write-ahead log is left), flushes dbt's log, keeps the Jinja it
    compiled (revwh.dbt_templates) and leaves nothing for DuckDB's bindings or multiprocessing
    to report as leaked."""
    settings = load_settings(env=make_home(tmp_path).env)
    run = start_dbt_commands(settings, "cand", [["seed", "--select", "sales_process_map"]],
                             "2025-02-01")
    [result] = run.results()
    assert result.success, result.summary()
    output = run.output.read_text()
    assert "leaked" not in output, output[-2000:]
    assert "Completed successfully" in (run.target_path / "dbt.log").read_text()
    assert not settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal").exists()
    assert (settings.home / "dbt_target" / f"_parse_{settings.target}" / KEPT_JINJA).exists()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute('select count(*) from "cand".sales_process_map').fetchone()[0] > 0


def test_the_kept_parse_is_reused_until_what_it_depends_on_changes(tmp_path: Path):
    """The runner keeps the parsed manifest (revwh.dbt_runner._parse) and reuses it while its key
    holds: a second run parses nothing; other parse vars make it parse again."""
    settings = load_settings(env=make_home(tmp_path).env)

    def parse(extra_vars: dict | None = None) -> int:
        run = start_dbt_commands(settings, "cand", [["build"]], "2025-02-01", extra_vars,
                                 wait_for_go=True)
        run.cancel()  # after the parse
        assert run.proc.returncode == 3, run.output.read_text()[-2000:]
        kept = settings.home / "dbt_target" / f"_parse_{settings.target}" / PARSED_MANIFEST
        return kept.stat().st_mtime_ns

    first = parse()
    assert parse() == first  # reused: not written again
    assert parse({"company_domains": ["example.com"]}) != first  # parsed again, and kept
