"""Demo-data generator: a B2B company's CRM, mailboxes and calendars, plus the ground truth.

Public API::

    from revwh.demo import generate, DEMO_AS_OF, DEMO_COMPANY_DOMAIN
    summary = generate(Path("demo"), scale=1.0, seed=42, rest_pages=False, progress=None)

``api_name`` / ``snake_name`` map Salesforce API names to Fivetran snake_case and back.
"""

from .constants import DEMO_AS_OF, DEMO_COMPANY_DOMAIN, GENERATOR_VERSION
from .generator import generate
from .naming import api_name, snake_name

__all__ = [
    "DEMO_AS_OF",
    "DEMO_COMPANY_DOMAIN",
    "GENERATOR_VERSION",
    "api_name",
    "generate",
    "snake_name",
]
