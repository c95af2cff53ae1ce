"""Validate the quality gate's Great Expectations suites in a subprocess of their own
(`revwh.gate.start_expectations` starts it, alongside the dbt process of the gate's tests).

A process of its own because:
- GX's import, its objects and the frames it validates (1.7 GB peak at S=10) stay out of the process
  that runs the gate: an Airflow task, or `revwh run`, which goes on to publish and forecast;
- once its results are written, the process ends with `os._exit`, as multiprocessing's forked
  workers do: the interpreter's teardown of everything GX imports took 0.7 s at every gate;
- it can defer what GX imports at start-up for expectations and renderers the suites rarely use
  (`DEFERRED_IMPORTS`): they load when first used.

Run as `python -m revwh.expectations_runner`: it reads `(settings, schema, suites)` as a pickle on
stdin and writes `("ok", outcomes, data_docs)` or `("error", message, None)` as a pickle on
stdout. Anything else it prints goes to stderr (the gate's log).
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import sys
import traceback
import types

# GX imports these with its expectation modules, for KL divergence and distribution tests and
# their charts: 0.8 s of the 2.2 s the worker took to import GX, on the gate's critical path.
DEFERRED_IMPORTS = ("scipy.stats", "altair")


class _LoadedOnFirstUse(types.ModuleType):
    """Stands in `sys.modules` for a module until one of its attributes is used.

    (importlib's LazyLoader cannot do this: an `import` statement reads the module's `__spec__`,
    and any attribute read makes LazyLoader load the module.)"""

    def __getattr__(self, attr: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later reads through this object go straight there
        return getattr(module, attr)


def defer_imports(names: tuple[str, ...]) -> None:
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = _LoadedOnFirstUse(name)


def main() -> int:
    defer_imports(DEFERRED_IMPORTS)
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not reach the pickle
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("revwh").setLevel(logging.INFO)
    try:
        settings, schema, suites = pickle.load(sys.stdin.buffer)
        from revwh.gate import run_expectations

        outcomes, data_docs = run_expectations(settings, schema, suites)
        found, code = ("ok", outcomes, data_docs), 0
    except Exception as exc:  # noqa: BLE001 (reported to the gate, which fails with it)
        traceback.print_exc()
        found, code = ("error", f"{type(exc).__name__}: {exc}", None), 1
    pickle.dump(found, results)
    results.close()
    return code


if __name__ == "__main__":
    exit_code = main()
    sys.stderr.flush()
    os._exit(exit_code)
