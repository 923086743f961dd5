TIMESTAMP '2024-01-01 00:00:00'
====
TIMESTAMPTZ '2024-01-01 00:00:00+00'
====
TIMESTAMP WITH TIME ZONE '2024-01-01 00:00:00+02'
====
TIMESTAMP WITHOUT TIME ZONE '2024-01-01'
====
DATE '2024-01-01'
====
TIME '12:34:56'
====
TIME WITH TIME ZONE '12:00+01'
====
INTERVAL '1 hour'
====
INTERVAL '5' MINUTE
====
INTERVAL '1-2' YEAR TO MONTH
====
INTERVAL '1 2:03:04' DAY TO SECOND
====
interval '3' hour to minute
====
JSON '{"a": 1}'
====
JSONB '[1, 2]'
====
NULL
====
true
====
FALSE
====
'it''s'
====
E'a\nb'
====
$$x$$
====
123456789012345678901234567890
====
1.5e10
====
"Quoted Col"
====
t.c
====
"T"."C"
====
timestamp
====
interval
====
date + 1
====
CURRENT_TIMESTAMP
====
current_date
====
LOCALTIMESTAMP
====
CURRENT_TIME
====
LOCALTIME
