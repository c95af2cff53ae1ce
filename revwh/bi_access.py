"""Read-only access for BI tools to the PostgreSQL warehouse.

The role named by the setting `bi_role` may read the published relations (the views in `marts`
and `forecast`) and nothing else. PostgreSQL runs a view with its owner's rights, so the role
needs no access to the version schemas behind the views, nor to raw, quality or revwh_meta.
Publishing drops and recreates the views, and a dropped view loses its grants: publish and
rollback call `grant_published` inside their transaction, so a BI session never finds a view it
may not read. On DuckDB there are no roles: BI opens the read-only replica (see revwh.publish).

Create the role, or update it (a new password rotates it), and grant what is published now:

    REVWH_TARGET=postgres REVWH_POSTGRES_DSN=... REVWH_BI_ROLE=revwh_bi \\
    REVWH_BI_PASSWORD=... python -m revwh.bi_access
"""

from __future__ import annotations

import os
import re
import sys

from revwh.settings import Settings, SettingsError, load_settings
from revwh.warehouse import Connection, connect

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BiRoleMissing(SettingsError):
    """`bi_role` names a role the server does not have."""


def _role(settings: Settings) -> str:
    if not _ROLE_NAME.match(settings.bi_role):
        raise SettingsError(f"bi_role={settings.bi_role!r} is not a plain PostgreSQL role name "
                            "(lower-case letters, digits, underscores)")
    return settings.bi_role


def grant_published(settings: Settings, con: Connection, schema: str) -> None:
    """Let the BI role read every relation in the published `schema` (no-op on DuckDB or
    without `bi_role`). Called in publish's transaction, after the views are recreated."""
    if con.dialect != "postgres" or not settings.bi_role:
        return
    role = _role(settings)
    if not con.scalar("select count(*) from pg_roles where rolname = ?", [role]):
        raise BiRoleMissing(f"bi_role={role!r} does not exist on the warehouse server: create it "
                            "with `python -m revwh.bi_access`, or unset REVWH_BI_ROLE")
    con.execute(f'grant usage on schema "{schema}" to "{role}"')
    con.execute(f'grant select on all tables in schema "{schema}" to "{role}"')


def ensure_role(settings: Settings, password: str | None = None) -> list[str]:
    """Create or update the BI role and grant it the published schemas that exist now; returns
    them. With a password the role can log in (run again with a new one to rotate it); without,
    it is a group role to grant to BI users. Its sessions are read-only by default."""
    from revwh.publish import PUBLISHED_SCHEMA

    if settings.target != "postgres":
        raise SettingsError("BI roles exist on PostgreSQL only: on DuckDB, point BI tools at "
                            f"{settings.published_path} (read-only)")
    if not settings.bi_role:
        raise SettingsError("set REVWH_BI_ROLE to the name of the role BI tools read with")
    role = _role(settings)
    login = "login password ?" if password else "nologin"
    params = [password] if password else []
    granted = []
    with connect(settings) as con, con.transaction():
        exists = con.scalar("select count(*) from pg_roles where rolname = ?", [role])
        con.execute(f'{"alter" if exists else "create"} role "{role}" {login}', params)
        con.execute(f'alter role "{role}" set default_transaction_read_only = on')
        # by default every role may create tables in schema public (PostgreSQL < 15) and temporary
        # tables in any database: take both from PUBLIC; the writer running this keeps TEMP
        # (dbt and GX use temporary tables)
        con.execute("revoke create on schema public from public")
        database = con.scalar("select current_database()")
        con.execute(f'revoke temporary on database "{database}" from public')
        con.execute(f'grant temporary on database "{database}" to current_user')
        for schema in PUBLISHED_SCHEMA.values():
            if con.schema_exists(schema):
                grant_published(settings, con, schema)
                granted.append(schema)
    return granted


def main() -> int:
    try:
        settings = load_settings()
        granted = ensure_role(settings, os.environ.get("REVWH_BI_PASSWORD") or None)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"role {settings.bi_role} reads: {', '.join(granted) or 'nothing published yet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
