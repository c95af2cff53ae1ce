{#- One row per message (Message-ID): the copy from the latest batch, the first mailbox of it.
    Addresses arrive normalised by the readers; internal senders are recognised again here from
    the domain (var company_domains), so a changed company domain list applies to old rows too.
    Without landed mail the model is empty (macros/source_columns.sql). -#}
{#- incremental (macros/activity_window.sql): a nightly run chooses the copies of the messages
    sent in the window again, among every landed copy -#}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          activity_window='landed', schema=var('state_schema'),
          window_column='sent_at', unique_key='message_id', on_schema_change='fail') }}
{%- set relation = source('activity', 'activity_email') -%}
{%- set columns = [
    ('message_id', dbt.type_string(), ['message_id']),
    ('mailbox', dbt.type_string(), ['mailbox']),
    ('origin', dbt.type_string(), ['origin']),
    ('in_reply_to', dbt.type_string(), ['in_reply_to']),
    ('references_ids', dbt.type_string(), ['references']),
    ('sent_at', dbt.type_timestamp(), ['sent_at']),
    ('from_address', dbt.type_string(), ['from_address']),
    ('from_domain', dbt.type_string(), ['from_domain']),
    ('from_is_hashed', 'boolean', ['from_is_hashed']),
    ('subject', dbt.type_string(), ['subject']),
    ('subject_mode', dbt.type_string(), ['subject_mode']),
    ('_batch_id', dbt.type_string(), ['_batch_id']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
),

{#- the window's keys come from the landed column itself: a filter on the cast column would convert
    every landed timestamp (S=10, e-mails: 0.21 s against 0.34 s for the whole select) #}
windowed as (
    select * from fields {{- activity_window_keys(relation if 'sent_at' in present else 'fields',
                                                 'message_id', 'sent_at') }}
),

latest as (
    {{ activity_latest_copy('windowed', 'message_id', 'mailbox, origin') }}
)

select
    message_id,
    nullif(in_reply_to, '') as in_reply_to_id,
    nullif(split_part(coalesce(references_ids, ''), ' ', 1), '') as first_reference_id,
    sent_at,
    nullif(from_address, '') as from_address,
    lower(from_domain) as from_domain,
    {{ activity_is_internal('lower(from_domain)') }} as is_internal_sender,
    coalesce(from_is_hashed, false) as from_is_hashed,
    subject,
    subject_mode,
    mailbox,
    origin,
    _batch_id as batch_id
from latest
where message_id is not null
{{ activity_window_order() }}
