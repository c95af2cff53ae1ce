"""Salesforce API names <-> Fivetran snake_case names.

Fivetran lands Salesforce objects and fields in snake_case: ``StageName`` -> ``stage_name``,
``Pain_Category__c`` -> ``pain_category_c``, object ``Verifier_Status__c`` ->
``verifier_status_c``. The demo generator writes REST pages with API names; the REST extractor
maps them back with :func:`snake_name`. ``snake_name(api_name(x)) == x`` for every contract
column and table.
"""

from __future__ import annotations

import re

_CAMEL_1 = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_2 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_MULTI_US = re.compile(r"_+")


def snake_name(api: str) -> str:
    """Fivetran's conversion of a Salesforce API name (object or field) to snake_case.

    ``Pain_Category__c`` -> ``pain_category_c``; ``SystemModstamp`` -> ``system_modstamp``;
    ``CurrencyIsoCode`` -> ``currency_iso_code``; ``Verifier_Status__c`` -> ``verifier_status_c``.
    """
    s = _CAMEL_1.sub("_", api)
    s = _CAMEL_2.sub("_", s)
    s = _MULTI_US.sub("_", s)
    return s.strip("_").lower()


def is_custom(snake: str) -> bool:
    """A snake name ending in ``_c`` is a custom object or field (``Xxx__c`` in the API)."""
    return snake.endswith("_c") and len(snake) > 2


def api_name(snake: str) -> str:
    """Salesforce API name for a Fivetran snake_case object or field name.

    Standard names become PascalCase (``stage_name`` -> ``StageName``, ``opportunity_history``
    -> ``OpportunityHistory``); custom names keep their words separated by ``_`` and end in
    ``__c`` (``pain_category_c`` -> ``Pain_Category__c``, ``verifier_status_c`` ->
    ``Verifier_Status__c``).
    """
    if is_custom(snake):
        words = snake[:-2].split("_")
        return "_".join(w[:1].upper() + w[1:] for w in words if w) + "__c"
    return "".join(w[:1].upper() + w[1:] for w in snake.split("_") if w)
