{#- One row per (message, address) among the To and Cc of the message copy that
    stg_activity__emails keeps; an address in both To and Cc counts once, as To. Incremental
    (macros/activity_window.sql): the messages sent in the window again. -#}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          activity_window='landed', schema=var('state_schema'),
          window_column='sent_at', unique_key='message_id', on_schema_change='fail') }}
{%- set relation = source('activity', 'activity_email_recipient') -%}
{%- set columns = [
    ('message_id', dbt.type_string(), ['message_id']),
    ('address', dbt.type_string(), ['address']),
    ('domain', dbt.type_string(), ['domain']),
    ('address_is_hashed', 'boolean', ['address_is_hashed']),
    ('kind', dbt.type_string(), ['kind']),
    ('position', dbt.type_bigint(), ['position']),
    ('origin', dbt.type_string(), ['origin']),
    ('_batch_id', dbt.type_string(), ['_batch_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
),

recipients as (
    select
        r.message_id,
        r.address,
        lower(r.domain) as domain,
        coalesce(r.address_is_hashed, false) as address_is_hashed,
        lower(r.kind) as recipient_kind,
        r.position,
        k.sent_at,
        row_number() over (
            partition by r.message_id, r.address
            order by case when lower(r.kind) = 'to' then 0 else 1 end, r.position
        ) as address_rank
    from fields as r
    inner join {{ ref('stg_activity__emails') }} as k
        on k.message_id = r.message_id and k.origin = r.origin and k.batch_id = r._batch_id
    where r.address is not null and r.address <> ''
    {{- activity_window_filter('k.sent_at', 'and') }}
)

select
    message_id,
    address,
    domain,
    {{ activity_is_internal('domain') }} as is_internal,
    address_is_hashed,
    recipient_kind,
    position,
    sent_at
from recipients
where address_rank = 1
{{ activity_window_order() }}
