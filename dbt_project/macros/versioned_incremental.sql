{# The materialization `versioned_incremental`: an incremental mart whose rows every version
   shares (no copy per version schema). Its rows live in a generation table in the state schema,
   "<model>__<the version that started it>", each row stamped with the version that wrote it
   (_revwh_from) and the version that replaced or deleted it (_revwh_to, null while current).
   The model's relation in a version schema is a view of the rows that version sees; a later
   build changes none of them, so an audited or published version keeps its rows.

   A build continuing from a published version P (revwh passes the generation in
   var('carried_generations'), after undoing the stamps of any version later than P and
   pointing the candidate's relation at the current rows, which `{{ this }}` then reads) stamps
   the rows it replaces (the strategy's rows; a post-hook may stamp more: versioned_retire) and
   inserts the recomputed ones. Otherwise (a full refresh, a first build, a changed model) it
   starts a new generation. `revwh_state.versioned_generations` records which generation each
   version reads; publishing prunes the rows and generations no kept version sees
   (revwh/publish.py).

   Strategies (config `incremental_strategy`): `activity_window` (config `window_column` and
   `unique_key`: macros/activity_window.sql) and `delete+insert` on `unique_key`. #}
{% materialization versioned_incremental, default %}
  {%- set version = this.schema -%}
  {%- set continuing = is_incremental() -%}
  {%- set generation = versioned_generation() -%}
  {%- set state_schema = var('state_schema') -%}
  {%- set registry = api.Relation.create(database=this.database, schema=state_schema,
                                         identifier='versioned_generations', type='table') -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- set tmp = make_temp_relation(this) -%}
  {%- set stamp = "'" ~ version ~ "'" -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {#- the recomputed rows (a contract is checked here: dbt's create_table_as) #}
  {% call statement('recompute') -%}
    {{ get_create_table_as_sql(True, tmp, sql) }}
  {%- endcall %}
  {%- set columns = get_quoted_csv(adapter.get_columns_in_relation(tmp) | map(attribute='name')) -%}

  {% call statement('main') -%}
    create schema if not exists {{ adapter.quote(state_schema) }};
    create table if not exists {{ registry }} (version varchar not null, model varchar not null,
                                               generation varchar not null);
    {%- if continuing %}
    update {{ generation }} set _revwh_to = {{ stamp }}
    where _revwh_to is null and ({{ versioned_replaced_rows(tmp) }});
    {%- else %}
    drop table if exists {{ generation }};
    {%- if config.get('contract').enforced %}
    create table {{ generation }} {{ get_table_columns_and_constraints() }};
    alter table {{ generation }} add column _revwh_from varchar;
    alter table {{ generation }} add column _revwh_to varchar;
    {%- else %}
    create table {{ generation }} as
    select {{ columns }}, cast(null as varchar) as _revwh_from, cast(null as varchar) as _revwh_to
    from {{ tmp }} where 1 = 0;
    {%- endif %}
    {%- endif %}
    insert into {{ generation }} ({{ columns }}, _revwh_from)
    select {{ columns }}, {{ stamp }} from {{ tmp }}{{ activity_window_order() }};
    drop view if exists {{ target }};
    create view {{ target }} as
    select {{ columns }} from {{ generation }}
    where _revwh_from <= {{ stamp }} and (_revwh_to is null or _revwh_to > {{ stamp }});
    delete from {{ registry }} where version = {{ stamp }} and model = '{{ this.identifier }}';
    insert into {{ registry }}
    values ({{ stamp }}, '{{ this.identifier }}', '{{ generation.identifier }}');
    drop table {{ tmp }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}

{# The generation table the model's (or another versioned model's, by name) rows go to in this
   build: the one carried over, or a new one named after this version. #}
{% macro versioned_generation(model=none) -%}
  {%- set carried = var('carried_generations', {}) or {} -%}
  {%- set model = model or this.identifier -%}
  {%- set continued = is_incremental() if model == this.identifier else model in carried -%}
  {%- set name = carried[model] if continued else model ~ '__' ~ this.schema -%}
  {{ return(api.Relation.create(database=this.database, schema=var('state_schema'), identifier=name,
                                type='table')) }}
{%- endmacro %}

{# A post-hook of a versioned_incremental model: stamp the current rows matching `condition` as
   replaced by this version (what a delete is to an incremental table). #}
{% macro versioned_retire(condition) -%}
    update {{ versioned_generation() }} set _revwh_to = '{{ this.schema }}'
    where _revwh_to is null and ({{ condition }})
{%- endmacro %}

{# The rows of another versioned_incremental model (a ref built before this one) that this
   version wrote or replaced: what changed in it since the version this build continues. #}
{% macro versioned_changes(model) -%}
    (select * from {{ versioned_generation(model.identifier) }}
     where _revwh_from = '{{ this.schema }}' or _revwh_to = '{{ this.schema }}')
{%- endmacro %}

{# The first day a model computed by day from another versioned_incremental model (a ref built
   before this one) recomputes: the earliest `column` of the rows of `model` this version wrote
   or replaced, or the as-of date of the version the build continues (var('continued_as_of'))
   when earlier (what depends on "today" moved on from there). A date expression of literals,
   read when SQL is compiled. #}
{% macro versioned_first_changed_day(model, column) -%}
  {%- set days = [] -%}
  {%- if execute -%}
    {%- set changed = run_query('select min(' ~ column ~ ') from ' ~ versioned_changes(model)
                                ~ ' as c').columns[0].values()[0] -%}
    {%- if changed is not none %}{% do days.append("cast('" ~ changed ~ "' as date)") %}{% endif -%}
  {%- endif -%}
  {%- if var('continued_as_of', none) -%}
    {%- do days.append("cast('" ~ var('continued_as_of') ~ "' as date)") -%}
  {%- endif -%}
  {{- (days | first) if days | length == 1 else ('least(' ~ days | join(', ') ~ ')' if days else as_of_date()) -}}
{%- endmacro %}

{# The current rows a continuing build replaces: those of the strategy (see above). #}
{% macro versioned_replaced_rows(recomputed) -%}
  {%- set strategy = config.get('incremental_strategy') -%}
  {%- set key = config.get('unique_key') -%}
  {%- if strategy == 'activity_window' -%}
    {{ activity_window_replaced(recomputed) }}
  {%- elif strategy == 'delete+insert' -%}
    {{ key }} in (select {{ key }} from {{ recomputed }})
  {%- else -%}
    {{ exceptions.raise_compiler_error("versioned_incremental: unknown incremental_strategy "
                                       ~ strategy) }}
  {%- endif -%}
{%- endmacro %}

{# is_incremental() for versioned_incremental models: revwh carried the model's generation over
   (var carried_generations) and this is no full refresh; dbt's own for every other model. #}
{% macro is_incremental() %}
  {%- if execute and model.config.materialized == 'versioned_incremental' -%}
    {{ return(not should_full_refresh()
              and model.name in (var('carried_generations', {}) or {})) }}
  {%- endif -%}
  {{ return(dbt.is_incremental()) }}
{% endmacro %}

{# pipeline_waterfall's first recomputed week (models/marts/pipeline/pipeline_waterfall.sql). #}
{% macro waterfall_first_week() -%}
  {{- trunc_date('week', versioned_first_changed_day(ref('fct_opportunity_daily'), 'snapshot_date')) -}}
{%- endmacro %}
