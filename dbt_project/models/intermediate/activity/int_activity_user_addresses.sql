{# The CRM user (rep) behind an internal address: one user per lower-cased e-mail (the smallest
   id when two records share one). #}
select user_id, email
from (
    select
        user_id,
        lower(email) as email,
        row_number() over (partition by lower(email) order by {{ binary_text('user_id') }}) as user_rank
    from {{ ref('int_users_unioned') }}
    where email is not null and email <> ''
) ranked
where user_rank = 1
