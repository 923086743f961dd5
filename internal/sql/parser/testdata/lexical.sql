SELECT 'it''s', E'tab\there\nnewline \\ \' \x41\101\u00e9\U0001F600', $$dollar 'quoted'$$, $tag$with $$ inside$tag$
====
-- adjacent literals separated by a newline concatenate
SELECT 'foo'
  'bar' -- comment between
  'baz', 'not' AS x
====
SELECT 'multi
line', "quoted ""ident"""
====
/* leading comment */ SELECT a /* inline */ FROM t -- trailing
====
SELECT 1, 1.5, .5, 1., 1e3, 1.5E-3, 2e+2, 0042
====
SELECT a=-1, a<-1, a*-1, a^-1, a||-1, a<>-1, a!=b, a>=b, a<=b
====
SELECT ÄÖÜ, café, x$1 FROM tëst
====
SELECT a
FROM t
WHERE b = 'multi
line' AND c = 1
