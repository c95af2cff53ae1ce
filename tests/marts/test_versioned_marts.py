"""versioned_incremental marts (macros/versioned_incremental.sql): every version reads its own rows
of one shared generation table. A candidate leaves the published version's rows as they were, a
build after a failed candidate undoes its stamps, rollback shows the older version's rows, and
publishing prunes what no kept version sees."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from revwh import pipeline, publish
from tests.marts.conftest import DS, day, demo_activity, marts_settings, query

VERSIONED = ("fct_activity", "fct_opportunity_daily", "opportunity_verifier_score",
             "opportunity_engagement", "pipeline_waterfall")


def _rows(settings, schema: str) -> dict[str, list[tuple]]:
    return {m: sorted(query(settings, f'select * from "{schema}"."{m}"'), key=repr)
            for m in VERSIONED}


def test_versions_keep_their_rows_through_failed_candidates_rollback_and_prune(
        tmp_path: Path, demo_dir: Path):
    settings = marts_settings(tmp_path / "home", demo_dir / "crm" / "salesforce",
                              **demo_activity(demo_dir))
    pipeline.extract_crm(settings, DS)
    pipeline.extract_activity(settings, DS)
    # two months back: the next builds recompute replies to older mail (e.g. a deal closed
    # since, whose thread gets an answer matched to the account's next deal)
    first = pipeline.build(settings, day(DS, -60))
    pipeline.publish_marts(settings, first["version"], first["relations"])
    before = _rows(settings, first["version"])

    # a candidate that fails its gate: the published version's rows are unchanged
    failed = pipeline.build(settings, day(DS, -1))
    assert set(VERSIONED) <= set(failed["carried_over"])
    publish.mark_failed(settings, failed["version"])
    assert _rows(settings, first["version"]) == before
    assert _rows(settings, failed["version"]) != before  # it did write its own day

    # the next build continues from the published version, without the failed one's stamps
    second = pipeline.build(settings, DS)
    pipeline.publish_marts(settings, second["version"], second["relations"])
    full = pipeline.build(settings, DS, full_refresh=True)
    assert _rows(settings, second["version"]) == _rows(settings, full["version"])
    assert _rows(settings, first["version"]) == before

    # rollback publishes the first version's rows again
    publish.rollback(settings)
    assert _rows(settings, "marts") == before

    # pruning leaves only the versions kept (the first, retired, and the third) and their rows
    settings = replace(settings, keep_versions=2)
    third = pipeline.build(settings, DS)
    pipeline.publish_marts(settings, third["version"], third["relations"])
    registered = query(settings, "select distinct version from revwh_state.versioned_generations "
                                 "order by 1")
    assert registered == [(first["version"],), (third["version"],)]
    generations = query(settings, "select distinct model, generation "
                                  "from revwh_state.versioned_generations")
    assert sorted(m for m, _ in generations) == sorted(VERSIONED)  # one generation each
    for _, generation in generations:
        unseen = query(settings, f'select count(*) from revwh_state."{generation}" '
                                 f"where _revwh_to <= '{first['version']}'")
        assert unseen == [(0,)]
    tables = {t for (t,) in query(settings, "select table_name from information_schema.tables "
                                            "where table_schema = 'revwh_state'")}
    assert {t for t in tables if "__marts_v" in t} == {g for _, g in generations}
    assert _rows(settings, first["version"]) == before
