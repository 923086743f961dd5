package pgvalue

// builtins are the types of pg_catalog a table's column may have, with
// their array types. Their OIDs are fixed in Postgres' source
// (pg_type.dat), the same in every database and version that has them;
// TestBuiltinsMatchCatalog checks this table against a live pg_type.
var builtins = []struct {
	oid      uint32
	name     string
	category byte
	kind     kind
	array    uint32 // the OID of the array type
}{
	{16, "bool", 'B', kindBool, 1000},
	{17, "bytea", 'U', kindBytea, 1001},
	{18, "char", 'Z', kindString, 1002},
	{19, "name", 'S', kindString, 1003},
	{20, "int8", 'N', kindNumber, 1016},
	{21, "int2", 'N', kindNumber, 1005},
	{22, "int2vector", 'A', kindString, 1006}, // "1 2 3", not an array's text
	{23, "int4", 'N', kindNumber, 1007},
	{24, "regproc", 'N', kindString, 1008},
	{25, "text", 'S', kindString, 1009},
	{26, "oid", 'N', kindNumber, 1028},
	{27, "tid", 'U', kindString, 1010},
	{28, "xid", 'U', kindNumber, 1011},
	{29, "cid", 'U', kindString, 1012},
	{30, "oidvector", 'A', kindString, 1013}, // as int2vector
	{114, "json", 'U', kindJSON, 199},
	{142, "xml", 'U', kindString, 143},
	{600, "point", 'G', kindString, 1017},
	{601, "lseg", 'G', kindString, 1018},
	{602, "path", 'G', kindString, 1019},
	{603, "box", 'G', kindString, 1020},
	{604, "polygon", 'G', kindString, 1027},
	{628, "line", 'G', kindString, 629},
	{650, "cidr", 'I', kindString, 651},
	{700, "float4", 'N', kindFloat, 1021},
	{701, "float8", 'N', kindFloat, 1022},
	{718, "circle", 'G', kindString, 719},
	{774, "macaddr8", 'U', kindString, 775},
	{790, "money", 'N', kindString, 791},
	{829, "macaddr", 'U', kindString, 1040},
	{869, "inet", 'I', kindString, 1041},
	{1033, "aclitem", 'U', kindString, 1034},
	{1042, "bpchar", 'S', kindString, 1014},
	{1043, "varchar", 'S', kindString, 1015},
	{1082, "date", 'D', kindDate, 1182},
	{1083, "time", 'D', kindString, 1183},
	{1114, "timestamp", 'D', kindTimestamp, 1115},
	{1184, "timestamptz", 'D', kindTimestampTZ, 1185},
	{1186, "interval", 'T', kindInterval, 1187},
	{1266, "timetz", 'D', kindString, 1270},
	{1560, "bit", 'V', kindString, 1561},
	{1562, "varbit", 'V', kindString, 1563},
	{1700, "numeric", 'N', kindString, 1231},
	{1790, "refcursor", 'U', kindString, 2201},
	{2202, "regprocedure", 'N', kindString, 2207},
	{2203, "regoper", 'N', kindString, 2208},
	{2204, "regoperator", 'N', kindString, 2209},
	{2205, "regclass", 'N', kindString, 2210},
	{2206, "regtype", 'N', kindString, 2211},
	{2950, "uuid", 'U', kindString, 2951},
	{2970, "txid_snapshot", 'U', kindString, 2949},
	{3220, "pg_lsn", 'U', kindString, 3221},
	{3614, "tsvector", 'U', kindString, 3643},
	{3615, "tsquery", 'U', kindString, 3645},
	{3642, "gtsvector", 'U', kindString, 3644},
	{3734, "regconfig", 'N', kindString, 3735},
	{3769, "regdictionary", 'N', kindString, 3770},
	{3802, "jsonb", 'U', kindJSON, 3807},
	{3904, "int4range", 'R', kindString, 3905},
	{3906, "numrange", 'R', kindString, 3907},
	{3908, "tsrange", 'R', kindString, 3909},
	{3910, "tstzrange", 'R', kindString, 3911},
	{3912, "daterange", 'R', kindString, 3913},
	{3926, "int8range", 'R', kindString, 3927},
	{4072, "jsonpath", 'U', kindString, 4073},
	{4089, "regnamespace", 'N', kindString, 4090},
	{4096, "regrole", 'N', kindString, 4097},
	{4191, "regcollation", 'N', kindString, 4192},
	{4451, "int4multirange", 'R', kindString, 6150},
	{4532, "nummultirange", 'R', kindString, 6151},
	{4533, "tsmultirange", 'R', kindString, 6152},
	{4534, "tstzmultirange", 'R', kindString, 6153},
	{4535, "datemultirange", 'R', kindString, 6155},
	{4536, "int8multirange", 'R', kindString, 6157},
	{5038, "pg_snapshot", 'U', kindString, 5039},
	{5069, "xid8", 'U', kindString, 271},
}

// builtinEntries holds the entries of builtins and their arrays: the
// types every Registry starts with. Never modified after init.
var builtinEntries = func() map[uint32]*entry {
	m := make(map[uint32]*entry, 2*len(builtins))
	for _, b := range builtins {
		delim := byte(',')
		if b.name == "box" {
			delim = ';'
		}
		elem := &entry{typ: Type{OID: b.oid, Name: b.name, Category: b.category, Delim: delim}, kind: b.kind}
		m[b.oid] = elem
		m[b.array] = &entry{
			typ:  Type{OID: b.array, Name: "_" + b.name, Category: 'A', Elem: b.oid, Delim: delim},
			kind: kindArray, elem: elem, delim: delim,
		}
	}
	return m
}()
