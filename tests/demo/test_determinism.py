"""Same (scale, seed) -> byte-identical output; another seed -> different data."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from revwh.demo import generate

from .conftest import SMALL_SCALE, SMALL_SEED


def _digests(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_same_seed_is_byte_identical(small, tmp_path):
    generate(tmp_path, scale=SMALL_SCALE, seed=SMALL_SEED, rest_pages=True)
    a, b = _digests(small), _digests(tmp_path)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert (small / "manifest.json").read_bytes() == (tmp_path / "manifest.json").read_bytes()


def test_manifest_lists_every_file_with_its_hash(small):
    man = json.loads((small / "manifest.json").read_text())
    assert man["scale"] == SMALL_SCALE and man["seed"] == SMALL_SEED
    files = _digests(small)
    files.pop("manifest.json")
    assert set(man["files"]) == set(files)
    for name, meta in man["files"].items():
        assert meta["sha256"] == files[name], name
    assert man["files"]["crm/salesforce/opportunity.csv"]["rows"] > 0


def test_independent_of_hash_seed_and_of_worker_processes(small, tmp_path):
    """A fresh interpreter with another PYTHONHASHSEED, in one process, writes the same bytes."""
    env = dict(os.environ, PYTHONHASHSEED="12345", REVWH_DEMO_WORKERS="1")
    code = (
        "import sys; from pathlib import Path; from revwh.demo import generate; "
        f"generate(Path(sys.argv[1]), scale={SMALL_SCALE}, seed={SMALL_SEED}, rest_pages=True)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env)
    assert _digests(tmp_path) == _digests(small)


def test_other_seed_gives_other_data_and_replaces_the_old_output(small, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(small, out)
    generate(out, scale=SMALL_SCALE, seed=SMALL_SEED + 1)
    a, b = _digests(small), _digests(out)
    for name in (
        "crm/salesforce/opportunity.csv",
        "crm/salesforce/contact.csv",
        "ground_truth/activity_truth.csv",
        "ground_truth/ground_truth.json",
    ):
        assert a[name] != b[name], name
    assert any(a.get(p) != h for p, h in b.items() if p.startswith("mail/"))
    # nothing stale from the first run (its REST pages, other mailboxes) is left behind
    man = json.loads((out / "manifest.json").read_text())
    assert set(b) - {"manifest.json"} == set(man["files"])
    assert man["seed"] == SMALL_SEED + 1
