{# Every e-mail address a CRM contact record holds, deleted and merged records included (a
   person may still write from a merged duplicate's address), with the surviving record it was
   merged into. Activity matching's view of the contact object; stg_salesforce__contacts keeps
   only live records. #}
with latest as (
    {{ latest_version(source('salesforce', 'contact'), 'id', 'system_modstamp') }}
)

select
    'salesforce' as source_system,
    id as contact_id,
    coalesce(nullif(master_record_id, ''), id) as surviving_contact_id,
    account_id,
    lower(trim(email)) as email,
    coalesce(is_deleted, false) as is_deleted
from latest
where email is not null and trim(email) <> ''
