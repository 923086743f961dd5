a OR b AND NOT c
====
(a OR b) AND c
====
NOT NOT a
====
a AND b AND c OR d OR e
====
1 + 2 * 3 - 4 / 5 % 6
====
(1 + 2) * 3
====
2 ^ 3 ^ 2
====
-2 ^ 2
====
- - 1
====
-x::int
====
+a - ~b
====
a = b
====
a <> b
====
a != b
====
a < b OR a > b OR a <= b OR a >= b
====
a + 1 = b * 2
====
a IS NULL
====
a IS NOT NULL
====
a ISNULL OR b NOTNULL
====
a IS TRUE AND b IS NOT FALSE AND c IS UNKNOWN AND d IS NOT UNKNOWN
====
a IS DISTINCT FROM b
====
a IS NOT DISTINCT FROM b + 1
====
NOT a IS NULL
====
a = b IS NULL
====
a BETWEEN 1 AND 10
====
a NOT BETWEEN SYMMETRIC b + 1 AND c * 2 AND d
====
a BETWEEN ASYMMETRIC 1 AND 2
====
a IN (1, 2, 3)
====
a NOT IN ('x', 'y')
====
name LIKE 'a%'
====
name NOT ILIKE '%B' ESCAPE '!'
====
name SIMILAR TO '(a|b)%'
====
name NOT SIMILAR TO 'x' ESCAPE '#'
====
a || b || c
====
a || (b || c)
====
payload -> 'user' ->> 'id'
====
doc #> '{a,b}' = doc #>> '{a}'
====
s ~ '^a' AND s ~* 'b' AND s !~ 'c' AND s !~* 'd'
====
tags @> '["x"]' OR tags <@ '["y"]'
====
a & b | c # d << 1 >> 2
====
a LIKE b || c
====
x::text::int
====
a + b::numeric(10,2)
====
(((a)))
====
a = (b = c)
====
x BETWEEN y AND z IS TRUE
