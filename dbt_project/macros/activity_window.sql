{# Incremental activity models (DESIGN §5 "Activity"): a nightly build recomputes only the
   activity that occurred from int_activity_window's window_start on (the as-of date minus
   var('activity_lookback_days'), or earlier when older activity has landed since the version the
   model continues from) and keeps every earlier row. CRM changes older than the window reach
   earlier activity only with a full refresh. The models that read only the landed activity
   recompute what landed since (`activity_window_start`). #}

{# The column of int_activity_window a model's window starts at: `landed_start` for a model
   configured activity_window='landed' (it reads only the landed activity: CRM changes and the
   move of the as-of date do not reach it), else `window_start`. #}
{% macro activity_window_start() -%}
    {{- 'landed_start' if config.get('activity_window') == 'landed' else 'window_start' -}}
{%- endmacro %}

{# int_activity_window's one row, by column name: read once per rendering of a model (its SQL,
   its materialization) and kept in that rendering's `model` dict: every read is a query, and a
   model asks for the window once per filter. #}
{% macro activity_window_row() -%}
    {%- set row = model.setdefault('revwh_activity_window', {}) -%}
    {%- if not row -%}
        {%- set table = run_query('select * from ' ~ ref('int_activity_window')) -%}
        {%- for name in table.column_names -%}
            {%- do row.update({name: table.columns[name].values()[0]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(row) -}}
{%- endmacro %}

{# The start of the model's window as a literal, read from int_activity_window when the SQL is
   compiled (null: nothing to recompute). A literal, unlike a subquery, lets DuckDB skip the row
   groups of a time-ordered table that end before the window, and skip a scan outright for null. #}
{% macro activity_window_bound() -%}
    {%- set window = ref('int_activity_window') -%}
    {%- if execute -%}
        {%- set start = activity_window_row()[activity_window_start()] -%}
        {{- "cast('" ~ start ~ "' as timestamp)" if start is not none else 'cast(null as timestamp)' -}}
    {%- else -%}
        (select {{ activity_window_start() }} from {{ window }})
    {%- endif -%}
{%- endmacro %}

{# Whether an incremental run of the model recomputes nothing (its window start is null: nothing
   landed, for a model configured activity_window='landed'). #}
{% macro activity_window_is_empty() -%}
    {{- return(is_incremental() and activity_window_row()[activity_window_start()] is none) -}}
{%- endmacro %}

{# `where <column> >= window_start` in an incremental run; nothing in a full build. The ref is
   taken at parse time so that every model using the window depends on int_activity_window.
   Also on each state table joined by key to the window's activity (same occurred_at): their rows
   are in time order, so the filter skips the older row groups a key join would read. #}
{% macro activity_window_filter(column, keyword='where') -%}
    {%- set window = ref('int_activity_window') -%}
    {%- if is_incremental() %} {{ keyword }} {{ column }} >= {{ activity_window_bound() }}{% endif -%}
{%- endmacro %}

{# `where <key> in (the keys of `relation` with a row in the window)` in an incremental run:
   staging chooses the latest copy among every copy of those keys, also one dated before the
   window (a meeting moved out of it); responses pair every message of those threads. #}
{% macro activity_window_keys(relation, key, column, keyword='where', outer_key=none) -%}
    {%- set window = ref('int_activity_window') -%}
    {%- if is_incremental() %} {{ keyword }} {{ outer_key or key }} in (
        select {{ key }} from {{ relation }} where {{ column }} >= {{ activity_window_bound() }}){% endif -%}
{%- endmacro %}

{# `order by <window_column>` in a full build: the model's rows are then stored in time order,
   and an incremental run's window (a literal bound) skips the row groups before it. Without
   it a full build's table has every row group span the whole history, and each window scan
   reads them all. Rows an incremental run adds go at the end, in the window. (A unit test
   renders the model without its config: no order.) #}
{% macro activity_window_order() -%}
    {%- set column = config.get('window_column') -%}
    {%- if column and not is_incremental() %}
order by {{ column }}
    {%- endif -%}
{%- endmacro %}

{# The rows an activity_window run replaces: those in the window (config `window_column`) and
   those of every key (`unique_key`) recomputed, in `recomputed`. Rows that left the window's
   source (e.g. a deleted meeting occurrence) go too, which a delete+insert on the key alone
   would keep. A key recomputed in the window has its earlier row elsewhere only if its activity
   moved, i.e. landed again: with a window and nothing landed (int_activity_window's
   landed_start is null), the window alone is replaced, which spares a scan of every key. #}
{% macro activity_window_replaced(recomputed) -%}
    {%- set key = config.get('unique_key') -%}
    {%- set column = config.get('window_column') -%}
    {%- set conditions = [] -%}
    {%- if column -%}
        {%- do conditions.append(column ~ ' >= ' ~ activity_window_bound()) -%}
    {%- endif -%}
    {%- if key and not (column and activity_window_row()['landed_start'] is none) -%}
        {%- do conditions.append(key ~ ' in (select ' ~ key ~ ' from ' ~ recomputed ~ ')') -%}
    {%- endif -%}
    {{- conditions | join(' or ') -}}
{%- endmacro %}

{# The incremental strategy `activity_window`: delete the rows it replaces
   (`activity_window_replaced`), then insert the recomputed rows. #}
{% macro get_incremental_activity_window_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }} where {{ activity_window_replaced(arg_dict['temp_relation']) }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
