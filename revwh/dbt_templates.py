"""Compiled Jinja templates kept from one dbt run to the next.

dbt compiles the Jinja of every macro and model it renders from source, in every process
(`Environment.from_string`, no loader, so Jinja's own bytecode cache never applies): ~230
templates and ~1 s of CPU in an S=10 nightly build, holding the GIL. This keeps the compiled
code objects in one file and hands them back when the same source is compiled again by an
identically configured environment. Jinja's `BytecodeCache` does the same for templates
loaded by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import os
import pickle
from collections.abc import Iterator
from importlib.metadata import version

import jinja2

FILE_NAME = "revwh_jinja_code.pickle"
MAX_ENTRIES = 20_000  # a bound on the file: past it, the cache starts afresh


def _format() -> tuple:
    """What a kept code object depends on besides its source: the Python bytecode format and the
    versions of Jinja and of dbt's Jinja environment."""
    return (importlib.util.MAGIC_NUMBER, version("jinja2"), version("dbt-common"))


def _pass_args(functions: dict) -> tuple:
    # the generated code passes a context / environment to a filter or test that asks for one
    return tuple(sorted((name, str(getattr(f, "jinja_pass_arg", ""))) for name, f in
                        functions.items()))


def _environment_key(env: jinja2.Environment) -> bytes:
    """The environment settings that the generated code depends on."""
    return repr((type(env).__module__, type(env).__qualname__,
                 env.code_generator_class.__qualname__, sorted(env.extensions),
                 _pass_args(env.filters), _pass_args(env.tests),
                 env.block_start_string, env.block_end_string, env.variable_start_string,
                 env.variable_end_string, env.comment_start_string, env.comment_end_string,
                 env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks,
                 env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline,
                 env.optimized, env.is_async, repr(env.finalize), repr(env.autoescape))).encode()


class CompiledTemplates:
    """Code objects of compiled templates, read from and written to `path`."""

    def __init__(self, path: str):
        self.path = path
        self.codes: dict[bytes, bytes] = {}
        self.added = 0
        with contextlib.suppress(Exception):  # missing, or written by other versions: start afresh
            with open(path, "rb") as f:
                kept_format, codes = pickle.load(f)
            if kept_format == _format():
                self.codes = codes

    def compile(self, compile_template, env, source, name=None, filename=None, raw=False,
                defer_init=False):
        """`compile_template` (Jinja's `Environment.compile`), or the code it made before."""
        if raw or not isinstance(source, str):
            return compile_template(env, source, name, filename, raw, defer_init)
        digest = hashlib.sha256(_environment_key(env))
        digest.update(repr((name, filename, defer_init)).encode())
        digest.update(source.encode())
        key = digest.digest()
        kept = self.codes.get(key)
        if kept is not None:
            return marshal.loads(kept)
        code = compile_template(env, source, name, filename, raw, defer_init)
        self.codes[key] = marshal.dumps(code)
        self.added += 1
        return code

    def save(self) -> None:
        """Write the code objects if any were added (atomically: runs may end at once)."""
        if not self.added:
            return
        codes = self.codes if len(self.codes) <= MAX_ENTRIES else {}
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as f:
            pickle.dump((_format(), codes), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self.path)


@contextlib.contextmanager
def kept_templates(path: str) -> Iterator[CompiledTemplates]:
    """Within it, Jinja compiles (in this process) from the code objects kept in `path`; those
    compiled meanwhile are added to it at the end."""
    templates = CompiledTemplates(path)
    compile_template = jinja2.Environment.compile

    def compile_kept(env, source, name=None, filename=None, raw=False, defer_init=False):
        return templates.compile(compile_template, env, source, name, filename, raw, defer_init)

    jinja2.Environment.compile = compile_kept
    try:
        yield templates
    finally:
        jinja2.Environment.compile = compile_template
        templates.save()
