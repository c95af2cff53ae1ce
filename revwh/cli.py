"""`revwh`: the command line. Long steps show progress; every command ends with a short summary,
and every known failure is one line naming the cause and the fix, with a non-zero exit."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import date, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from revwh.settings import Settings, SettingsError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Revenue analytics warehouse: extract, build, gate, publish, forecast.")
console = Console()
err = Console(stderr=True)

EXAMPLE_QUERY = ("select segment, count(*) as won_deals, round(sum(amount)) as bookings "
                 "from marts.fct_win_loss where is_won group by segment order by bookings desc")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 1):
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _known_errors() -> tuple[type[BaseException], ...]:
    from revwh.pipeline import permanent_errors
    from revwh.warehouse import WarehouseError

    return permanent_errors() + (WarehouseError,)


def _log_file(settings: Settings, name: str) -> Path:
    folder = settings.home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.log"


def _parse_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        _fail(f"--date {value!r} is not a date: use YYYY-MM-DD")


@app.command("demo-data")
def demo_data(scale: float = typer.Option(1.0, help="1 = ~40 reps, ~2,000 opportunities"),
              seed: int = typer.Option(42, help="same scale and seed give identical files"),
              out: Path = typer.Option(None, help="output folder (default: <home>/demo)")):
    """Generate demo sources (CRM file drop, mailboxes, calendars) with planted ground truth."""
    from rich.progress import Progress

    from revwh.demo import generate

    settings = _settings()
    out = out or settings.demo_dir
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("generating demo data", total=1.0)
        summary = generate(out, scale=scale, seed=seed,
                           progress=lambda step, done: progress.update(
                               bar, completed=done, description=f"demo data: {step}"))
    console.print(f"[green]demo data[/] scale={scale} seed={seed} written to {out}")
    _print_counts("rows per table", summary.get("rows", {}))


def _ensure_demo_data(settings: Settings, scale: float, seed: int) -> None:
    import json

    from revwh.demo import generate

    manifest = settings.demo_dir / "manifest.json"
    if manifest.exists():
        meta = json.loads(manifest.read_text())
        if meta.get("scale") == scale and meta.get("seed") == seed:
            console.print(f"demo data (scale={scale}, seed={seed}) already in {settings.demo_dir}")
            return
    with console.status(f"generating demo data (scale={scale}, seed={seed})"):
        generate(settings.demo_dir, scale=scale, seed=seed)
    console.print(f"[green]generated[/] demo sources in {settings.demo_dir}")


def _follow_dag_test(log_file: Path, stop: threading.Event, status) -> None:
    """Show which task `airflow dags test` is running, from its log."""
    started = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
    seen = 0
    while not stop.wait(0.5):
        if not log_file.exists():
            continue
        text = log_file.read_text(errors="replace")
        for match in started.finditer(text, seen):
            status.update(f"running [bold]{match.group(1)}[/] (log: {log_file})")
            seen = match.end()


@app.command()
def demo(scale: float = typer.Option(1.0, help="demo company size"),
         seed: int = typer.Option(42, help="demo data seed")):
    """The main job on demo data: generate sources, run the nightly DAG through Airflow, and
    summarise what was published."""
    from revwh.demo import DEMO_AS_OF
    from revwh.orchestration import dags_test, ensure_airflow

    settings = _settings()
    started = time.monotonic()
    _ensure_demo_data(settings, scale, seed)
    log_file = _log_file(settings, "demo")
    with console.status("preparing Airflow (first run only)"):
        ensure_airflow(settings, log_file)
    ds = DEMO_AS_OF.isoformat()
    stop = threading.Event()
    with console.status(f"revenue_nightly for {ds} through Airflow") as status:
        follower = threading.Thread(target=_follow_dag_test, args=(log_file, stop, status),
                                    daemon=True)
        follower.start()
        code = dags_test(settings, ds, log_file)
        stop.set()
        follower.join()
    from revwh import publish

    marts, forecast = publish.current(settings, "marts"), publish.current(settings, "forecast")
    if code != 0:
        reason = _last_failure(log_file)
        if marts is None or marts.logical_date != ds:
            _fail(f"the nightly DAG failed{': ' + reason if reason else ''}. Nothing new was "
                  f"published. Full log: {log_file}")
        if forecast is None or forecast.logical_date != ds:
            _fail(f"the forecast DAG failed{': ' + reason if reason else ''}. The marts for {ds} "
                  f"are published; the forecast stays at its previous version. Full log: "
                  f"{log_file}")
        _fail(f"Airflow reported a failure{': ' + reason if reason else ''}. Full log: {log_file}")
    console.print(f"[green]revenue_nightly and revenue_forecast succeeded[/] for {ds} in "
                  f"{time.monotonic() - started:.0f} s (log: {log_file})")
    _summary(settings)


def _last_failure(log_file: Path) -> str:
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    found = re.findall(r"(?:AirflowFailException|Error): (.+)", text)
    return found[-1].strip()[:500] if found else ""


@app.command()
def run(date_: str = typer.Option(..., "--date", help="logical date, YYYY-MM-DD"),
        full_refresh: bool = typer.Option(False, "--full-refresh",
                                          help="rebuild incremental marts from scratch")):
    """The nightly steps for one logical date, in this process (as the DAG runs them)."""
    from revwh import pipeline

    settings = _settings()
    ds = _parse_date(date_)
    started = time.monotonic()
    try:
        with console.status("starting") as status:
            pipeline.run_all(settings, ds, on_step=lambda s: status.update(f"{ds}: {s}"),
                             full_refresh=full_refresh)
    except _known_errors() as exc:
        _fail(f"{exc}")
    console.print(f"[green]run for {ds} published[/] in {time.monotonic() - started:.0f} s")
    _summary(settings)


@app.command()
def backfill(from_: str = typer.Option(..., "--from", help="first logical date, YYYY-MM-DD"),
             to: str = typer.Option(..., "--to", help="last logical date, YYYY-MM-DD")):
    """The nightly steps for every logical date from --from to --to, oldest first, in this
    process. Each date is idempotent: rerunning a range publishes the same marts again."""
    from datetime import date, timedelta

    from revwh import pipeline

    settings = _settings()
    first, last = date.fromisoformat(_parse_date(from_)), date.fromisoformat(_parse_date(to))
    if last < first:
        _fail(f"--to ({last}) is before --from ({first}): give the range oldest first")
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    started = time.monotonic()
    for n, ds in enumerate(days, 1):
        try:
            with console.status(f"{ds} ({n}/{len(days)})") as status:
                pipeline.run_all(settings, ds, on_step=lambda s, ds=ds, n=n: status.update(
                    f"{ds} ({n}/{len(days)}): {s}"))
        except _known_errors() as exc:
            _fail(f"backfill stopped at {ds} ({n - 1} of {len(days)} dates published): {exc}. "
                  f"Fix it and rerun from {ds}.")
        console.print(f"  {ds} published")
    console.print(f"[green]backfill of {len(days)} dates published[/] ({days[0]} .. {days[-1]}) "
                  f"in {time.monotonic() - started:.0f} s")
    _summary(settings, example=False)


@app.command()
def status():
    """Published versions and row counts."""
    from revwh import publish
    from revwh.warehouse import WarehouseError

    settings = _settings()
    try:
        history = publish.versions(settings)
    except WarehouseError as exc:
        _fail(str(exc))
    if not history:
        console.print(f"nothing published yet in {settings.warehouse_path}: run `revwh demo` "
                      "or `revwh run --date YYYY-MM-DD`")
        return
    table = Table(title="versions (newest first)")
    for col in ("version", "kind", "logical date", "status", "built", "published"):
        table.add_column(col)
    for v in history[:12]:
        table.add_row(v.version, v.kind, v.logical_date, v.status, f"{v.built_at:%Y-%m-%d %H:%M}",
                      f"{v.published_at:%Y-%m-%d %H:%M}" if v.published_at else "")
    console.print(table)
    _summary(settings, example=False)


@app.command()
def rollback(kind: str = typer.Option("marts", help="marts or forecast")):
    """Point the published relations back at the previous version."""
    from revwh import publish

    settings = _settings()
    try:
        left, now = publish.rollback(settings, kind)
    except (publish.PublishError, *_known_errors()) as exc:
        _fail(str(exc))
    console.print(f"[green]rolled back[/] {kind}: {left} -> {now}")


@app.command()
def query(sql: str = typer.Argument(..., help="SQL to run against the warehouse, read-only")):
    """Run one read-only SQL query against the warehouse and print the result."""
    from revwh.warehouse import WarehouseError, connect_published

    settings = _settings()
    try:
        with connect_published(settings) as con:
            frame = con.df(sql)
    except WarehouseError as exc:
        _fail(str(exc))
    except Exception as exc:  # the database's own message says what is wrong with the SQL
        _fail(f"{exc}".strip().splitlines()[0])
    table = Table()
    for name in frame.columns:
        table.add_column(str(name))
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)


@app.command()
def dashboard(port: int = typer.Option(8501, help="port to serve on"),
              host: str = typer.Option("127.0.0.1", help="address to bind (0.0.0.0: all)")):
    """Serve the RevOps dashboard (Streamlit) on the published marts and forecasts."""
    from revwh.dashboard.server import serve

    settings = _settings()
    source = settings.published_path if settings.target == "duckdb" else _where(settings)
    console.print(f"dashboard on http://{host}:{port}, reading {source} read-only")
    serve(host, port)


def _print_counts(title: str, counts: dict) -> None:
    table = Table(title=title)
    table.add_column("relation")
    table.add_column("rows", justify="right")
    for name, n in sorted(counts.items()):
        table.add_row(name, f"{n:,}")
    console.print(table)


def _summary(settings: Settings, example: bool = True) -> None:
    from revwh import publish
    from revwh.warehouse import connect_published

    _print_counts("published marts", publish.row_counts(settings, "marts"))
    with connect_published(settings) as con:
        forecast = con.execute(
            "select period_start, yhat, yhat_lower, yhat_upper, model from forecast.revenue_forecast "
            "where level = 'company' and grain = 'month' order by period_start limit 3") \
            if con.schema_exists("forecast") else []
        if forecast:
            console.print("latest forecast (company bookings, 80% interval):")
            for ds, yhat, lo, hi, model in forecast:
                console.print(f"  {ds:%Y-%m}: {yhat:,.0f}  [{lo:,.0f} .. {hi:,.0f}]  ({model})")
        console.print(f"warehouse: [bold]{_where(settings)}[/]")
        if settings.target == "duckdb":
            console.print(f"published marts for readers (BI, dashboard): {settings.published_path}")
        if example:
            console.print(f"example query:\n  revwh query \"{EXAMPLE_QUERY}\"")
            for row in con.execute(EXAMPLE_QUERY):
                console.print(f"  {row[0]:<12} {row[1]:>6} won  {row[2]:>14,.0f}")


def _where(settings: Settings) -> str:
    if settings.target == "postgres":
        from urllib.parse import urlparse

        url = urlparse(settings.postgres_dsn)
        return f"PostgreSQL {url.hostname}:{url.port or 5432}{url.path}"  # no credentials
    return f"{settings.warehouse_path} (DuckDB)"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
