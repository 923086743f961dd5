count(*)
====
count(DISTINCT user_id)
====
count(ALL x)
====
sum(amount) FILTER (WHERE amount > 0)
====
now()
====
coalesce(a, b, 'x')
====
NULLIF(a, '')
====
greatest(a, b) + LEAST(c, d)
====
CAST(x AS bigint)
====
TRY_CAST(x AS double precision)
====
cast(ts as timestamp with time zone)
====
CAST(x AS varchar(10)[])
====
CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END
====
CASE status WHEN 1 THEN 'a' WHEN 2 THEN 'b' END
====
EXTRACT(EPOCH FROM ts)
====
extract(dow from ts) + EXTRACT('Year' FROM d)
====
POSITION('x' IN s)
====
position(a || b IN c || d)
====
SUBSTRING(s FROM 2 FOR 3)
====
substring(s FROM 2)
====
substring(s FOR 3)
====
substring(s, 2, 3)
====
TRIM(BOTH 'x' FROM s)
====
trim(LEADING FROM s)
====
TRIM(TRAILING ' ' FROM s)
====
trim(s)
====
trim(both s)
====
OVERLAY(s PLACING 'ab' FROM 2 FOR 3)
====
overlay(s, 'ab', 2)
====
"extract"(a, b)
====
"trim"(x)
====
"CamelFunc"(x)
====
date_trunc('minute', ts)
====
timestamp(x)
====
left(s, 2)
====
f(g(h(1)), (2 + 3) * 4)
====
coalesce(payload ->> 'a', '')::int
====
count(*) FILTER (WHERE x IS NOT NULL) > 0
