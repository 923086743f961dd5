package pgvalue

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// OIDs of the built-in types the tests use.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt2Vector  = 22
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidXID         = 28
	oidJSON        = 114
	oidXML         = 142
	oidPoint       = 600
	oidBox         = 603
	oidCIDR        = 650
	oidFloat4      = 700
	oidFloat8      = 701
	oidMoney       = 790
	oidMacaddr     = 829
	oidInet        = 869
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidTimeTZ      = 1266
	oidBit         = 1560
	oidVarbit      = 1562
	oidNumeric     = 1700
	oidUUID        = 2950
	oidTSVector    = 3614
	oidJSONB       = 3802
	oidInt4Range   = 3904

	oidBoolArray        = 1000
	oidByteaArray       = 1001
	oidInt4Array        = 1007
	oidTextArray        = 1009
	oidBoxArray         = 1020
	oidFloat8Array      = 1022
	oidDateArray        = 1182
	oidTimestampTZArray = 1185
	oidNumericArray     = 1231
	oidJSONBArray       = 3807
)

// User types the tests give to Add, as Resolve would load them.
const (
	oidMood         = 90001 // enum
	oidPosInt       = 90002 // domain over int4
	oidMoodArray    = 90003
	oidPosIntArray  = 90004
	oidIntList      = 90005 // domain over int4[]
	oidPair         = 90006 // composite
	oidPairArray    = 90007
	oidPosIntDomain = 90008 // domain over the domain posint
	oidLostDomain   = 90009 // domain over a type never loaded
	oidIntListArray = 90010 // array of the domain over int4[]
	oidUnknown      = 99999
)

// userTypes are given in an order that puts domains and arrays before
// what they refer to: Add must not depend on it.
var userTypes = []Type{
	{OID: oidIntListArray, Name: "_intlist", Category: 'A', Elem: oidIntList, Delim: ','},
	{OID: oidPosIntDomain, Name: "posint2", Category: 'N', Base: oidPosInt, Delim: ','},
	{OID: oidMoodArray, Name: "_mood", Category: 'A', Elem: oidMood, Delim: ','},
	{OID: oidPosIntArray, Name: "_posint", Category: 'A', Elem: oidPosInt, Delim: ','},
	{OID: oidMood, Name: "mood", Category: 'E', Delim: ','},
	{OID: oidPosInt, Name: "posint", Category: 'N', Base: oidInt4, Delim: ','},
	{OID: oidIntList, Name: "intlist", Category: 'A', Base: oidInt4Array, Delim: ','},
	{OID: oidPair, Name: "pair", Category: 'C', Delim: ','},
	{OID: oidPairArray, Name: "_pair", Category: 'A', Elem: oidPair, Delim: ','},
	{OID: oidLostDomain, Name: "lost", Category: 'N', Base: oidUnknown, Delim: ','},
}

func testRegistry() *Registry {
	r := NewRegistry()
	r.Add(userTypes[:3]...) // in two steps, the later completing the earlier
	r.Add(userTypes[3:]...)
	return r
}

type valueCase struct {
	oid  uint32
	text string
	want string // JSON; "" for an error
}

var valueCases = []valueCase{
	// bool
	{oidBool, "t", `true`},
	{oidBool, "f", `false`},
	{oidBool, "true", ``},
	{oidBool, "", ``},
	{oidBool, "T", ``},

	// integers: numbers as they are
	{oidInt2, "0", `0`},
	{oidInt2, "-32768", `-32768`},
	{oidInt4, "2147483647", `2147483647`},
	{oidInt8, "-9223372036854775808", `-9223372036854775808`},
	{oidOID, "4294967295", `4294967295`},
	{oidXID, "123", `123`},
	{oidInt4, "", ``},
	{oidInt4, "-", ``},
	{oidInt4, "+1", ``},
	{oidInt4, "01", ``},
	{oidInt4, " 1", ``},
	{oidInt4, "1a", ``},

	// floats
	{oidFloat8, "1.5", `1.5`},
	{oidFloat8, "-0", `-0`},
	{oidFloat8, "1e+100", `1e+100`},
	{oidFloat8, "1e-05", `1e-05`},
	{oidFloat8, "1.2345678901234568e+17", `1.2345678901234568e+17`},
	{oidFloat4, "3.4028235e+38", `3.4028235e+38`},
	{oidFloat8, "NaN", `"NaN"`},
	{oidFloat8, "Infinity", `"Infinity"`},
	{oidFloat4, "-Infinity", `"-Infinity"`},
	{oidFloat8, "nan", ``},
	{oidFloat8, "inf", ``},
	{oidFloat8, ".5", ``},
	{oidFloat8, "1.", ``},
	{oidFloat8, "1e", ``},
	{oidFloat8, "", ``},

	// numeric and money: exact strings
	{oidNumeric, "12.30", `"12.30"`},
	{oidNumeric, "-0.000000001", `"-0.000000001"`},
	{oidNumeric, "123456789012345678901234567890.123456789", `"123456789012345678901234567890.123456789"`},
	{oidNumeric, "NaN", `"NaN"`},
	{oidNumeric, "Infinity", `"Infinity"`},
	{oidMoney, "$1,234.56", `"$1,234.56"`},
	{oidMoney, "-$0.01", `"-$0.01"`},

	// strings, escaped
	{oidText, "plain", `"plain"`},
	{oidText, "", `""`},
	{oidText, `quote " back \ slash`, `"quote \" back \\ slash"`},
	{oidText, "tab\tnl\ncr\r\x00\x1f", `"tab\tnl\ncr\r\u0000\u001f"`},
	{oidText, "<&>", `"<&>"`},
	{oidText, "ünïcødé 😀", `"ünïcødé 😀"`},
	{oidText, "\u2028\u2029", `"\u2028\u2029"`},
	{oidText, "bad \xff utf-8", `"bad \ufffd utf-8"`},
	{oidVarchar, "v", `"v"`},
	{oidBpchar, "ab   ", `"ab   "`},
	{oidName, "pg_class", `"pg_class"`},
	{oidChar, "x", `"x"`},
	{oidUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
	{oidInet, "192.168.0.1/24", `"192.168.0.1/24"`},
	{oidCIDR, "10.0.0.0/8", `"10.0.0.0/8"`},
	{oidMacaddr, "08:00:2b:01:02:03", `"08:00:2b:01:02:03"`},
	{oidXML, `<a href="x">y</a>`, `"<a href=\"x\">y</a>"`},
	{oidBit, "101", `"101"`},
	{oidVarbit, "1", `"1"`},
	{oidTSVector, "'a':1 'fat':2", `"'a':1 'fat':2"`},
	{oidPoint, "(1,2)", `"(1,2)"`},
	{oidInt4Range, "[1,5)", `"[1,5)"`},
	{oidInt2Vector, "1 2 3", `"1 2 3"`},
	{oidMood, "so so", `"so so"`},
	{oidPair, `(1,"x y")`, `"(1,\"x y\")"`},
	{oidUnknown, `any "thing"`, `"any \"thing\""`},
	{0, "zero", `"zero"`},

	// json, jsonb: as they are, checked
	{oidJSONB, `{"a": [1, 2.50, "x"], "b": null}`, `{"a": [1, 2.50, "x"], "b": null}`},
	{oidJSON, " [ ] \n", " [ ] \n"},
	{oidJSON, `"s\u00e9"`, `"s\u00e9"`},
	{oidJSONB, `null`, `null`},
	{oidJSONB, `-1.5e3`, `-1.5e3`},
	{oidJSONB, `{`, ``},
	{oidJSONB, `{"a":1,}`, ``},
	{oidJSONB, ``, ``},
	{oidJSONB, `NaN`, ``},
	{oidJSONB, `1 2`, ``},
	{oidJSON, `{"a" 1}`, ``},

	// bytea: base64
	{oidBytea, `\x`, `""`},
	{oidBytea, `\x000102ff`, `"AAEC/w=="`},
	{oidBytea, `\x0A0b`, `"Cgs="`},
	{oidBytea, `\x0`, ``},
	{oidBytea, `\xzz`, ``},
	{oidBytea, `\x0g`, ``},
	{oidBytea, `abc`, `"YWJj"`},              // escape format
	{oidBytea, `a\\b\001\377`, `"YVxiAf8="`}, // a \ b 0x01 0xff
	{oidBytea, ``, `""`},
	{oidBytea, `\9`, ``},
	{oidBytea, `\400`, ``},
	{oidBytea, `x\`, ``},

	// date: as it is
	{oidDate, "2026-11-26", `"2026-11-26"`},
	{oidDate, "infinity", `"infinity"`},
	{oidDate, "-infinity", `"-infinity"`},
	{oidDate, "0044-03-15 BC", `"0044-03-15 BC"`},
	{oidDate, "5874897-12-31", `"5874897-12-31"`},
	{oidDate, "11/26/2026", ``},
	{oidDate, "26.11.2026", ``},
	{oidDate, "2026-11-26 AD", ``},
	{oidDate, "226-11-26", ``},

	// timestamp: 'T'
	{oidTimestamp, "2026-11-26 05:48:19.123456", `"2026-11-26T05:48:19.123456"`},
	{oidTimestamp, "2026-11-26 05:48:19", `"2026-11-26T05:48:19"`},
	{oidTimestamp, "0044-03-15 05:48:19 BC", `"0044-03-15T05:48:19 BC"`},
	{oidTimestamp, "294276-12-31 23:59:59.999999", `"294276-12-31T23:59:59.999999"`},
	{oidTimestamp, "infinity", `"infinity"`},
	{oidTimestamp, "-infinity", `"-infinity"`},
	{oidTimestamp, "2026-11-26T05:48:19", ``},
	{oidTimestamp, "11/26/2026 05:48:19", ``},
	{oidTimestamp, "2026-11-26 05:48:19.", ``},
	{oidTimestamp, "2026-11-26 05:48", ``},
	{oidTimestamp, "2026-11-26 05:48:19+00", ``},
	{oidTimestamp, "Thu Nov 26 05:48:19 2026", ``},

	// timestamptz: UTC, 'Z'
	{oidTimestampTZ, "2026-11-26 05:48:19.123456+00", `"2026-11-26T05:48:19.123456Z"`},
	{oidTimestampTZ, "2026-11-26 05:48:19+00:00", `"2026-11-26T05:48:19Z"`},
	{oidTimestampTZ, "2026-11-26 05:48:19-00", `"2026-11-26T05:48:19Z"`},
	{oidTimestampTZ, "2026-11-26 05:48:19.5+05:30", `"2026-11-26T00:18:19.5Z"`},
	{oidTimestampTZ, "2026-01-01 00:10:00-01", `"2026-01-01T01:10:00Z"`},
	{oidTimestampTZ, "2026-01-01 01:00:00+02", `"2025-12-31T23:00:00Z"`},
	{oidTimestampTZ, "2024-03-01 00:30:00+01", `"2024-02-29T23:30:00Z"`},
	{oidTimestampTZ, "2023-03-01 00:30:00+01", `"2023-02-28T23:30:00Z"`},
	{oidTimestampTZ, "2026-12-31 23:30:00-01", `"2027-01-01T00:30:00Z"`},
	{oidTimestampTZ, "1900-01-01 00:00:00+00:53:28", `"1899-12-31T23:06:32Z"`},
	{oidTimestampTZ, "0999-01-01 00:00:00+01", `"0998-12-31T23:00:00Z"`},
	{oidTimestampTZ, "0044-03-15 05:48:19+00 BC", `"0044-03-15T05:48:19Z BC"`},
	{oidTimestampTZ, "0044-03-15 05:48:19+05:30 BC", `"0044-03-15T00:18:19Z BC"`},
	{oidTimestampTZ, "0001-01-01 00:30:00+01", `"0001-12-31T23:30:00Z BC"`},
	{oidTimestampTZ, "0001-12-31 23:30:00-01 BC", `"0001-01-01T00:30:00Z"`},
	{oidTimestampTZ, "infinity", `"infinity"`},
	{oidTimestampTZ, "-infinity", `"-infinity"`},
	{oidTimestampTZ, "2026-11-26 05:48:19", ``},
	{oidTimestampTZ, "2026-11-26 05:48:19+0", ``},
	{oidTimestampTZ, "2026-11-26 05:48:19 UTC", ``},
	{oidTimestampTZ, "2026-11-26 05:48:19+00 AD", ``},
	{oidTimestampTZ, "2026-11-26 05:48:19+00:0", ``},

	// time, timetz, interval: as they are
	{oidTime, "05:48:19.123456", `"05:48:19.123456"`},
	{oidTime, "24:00:00", `"24:00:00"`},
	{oidTimeTZ, "05:48:19+02", `"05:48:19+02"`},
	{oidInterval, "P1Y2M3DT4H5M6.5S", `"P1Y2M3DT4H5M6.5S"`},
	{oidInterval, "PT0S", `"PT0S"`},
	{oidInterval, "P-1D", `"P-1D"`},
	{oidInterval, "infinity", `"infinity"`},
	{oidInterval, "1 year 2 mons", ``},
	{oidInterval, "@ 1 year", ``},
	{oidInterval, "", ``},

	// domains: as their base type
	{oidPosInt, "42", `42`},
	{oidPosInt, "x", ``},
	{oidPosIntDomain, "7", `7`},
	{oidIntList, "{1,2}", `[1,2]`},
	{oidLostDomain, "5", `"5"`},

	// arrays
	{oidInt4Array, "{1,2,NULL}", `[1,2,null]`},
	{oidInt4Array, "{}", `[]`},
	{oidInt4Array, "[0:1]={1,2}", `[1,2]`},
	{oidInt4Array, "[-2:-1]={1,2}", `[1,2]`},
	{oidInt4Array, "[1:2][1:2]={{1,2},{3,4}}", `[[1,2],[3,4]]`},
	{oidInt4Array, "{{1,2},{3,4}}", `[[1,2],[3,4]]`},
	{oidInt4Array, "{{{1}},{{2}}}", `[[[1]],[[2]]]`},
	{oidInt4Array, "{{NULL,2}}", `[[null,2]]`},
	{oidInt4Array, " { 1 , 2 } ", `[1,2]`},
	{oidInt4Array, `{"1"}`, `[1]`},
	{oidTextArray, `{"a b","c\"d","e\\f",NULL,"NULL","",x}`, `["a b","c\"d","e\\f",null,"NULL","","x"]`},
	{oidTextArray, `{null,Null,nULL}`, `[null,null,null]`},
	{oidTextArray, `{"null",\NULL,NULLx}`, `["null","NULL","NULLx"]`},
	{oidTextArray, `{a\,b,c\}d,e\"f,g\{}`, `["a,b","c}d","e\"f","g{"]`},
	{oidTextArray, `{  a b  ,c}`, `["a b","c"]`},
	{oidTextArray, `{a\ ,\ b}`, `["a "," b"]`},
	{oidTextArray, `{"{x}","a,b","tab	in","ünï 😀"}`, `["{x}","a,b","tab\tin","ünï 😀"]`},
	{oidTextArray, `{"\a\b\\\""}`, `["ab\\\""]`},
	{oidTextArray, "{\"bad \xff\"}", `["bad \ufffd"]`},
	{oidTextArray, `{{a,"b c"},{NULL,d}}`, `[["a","b c"],[null,"d"]]`},
	{oidBoolArray, `{t,f,NULL}`, `[true,false,null]`},
	{oidFloat8Array, `{1.5,NaN,Infinity,-Infinity,-0}`, `[1.5,"NaN","Infinity","-Infinity",-0]`},
	{oidNumericArray, `{1.50,NaN}`, `["1.50","NaN"]`},
	{oidJSONBArray, `{"{\"a\": 1}","[1, 2]","null",NULL}`, `[{"a": 1},[1, 2],null,null]`},
	{oidByteaArray, `{"\\x0102",NULL}`, `["AQI=",null]`},
	{oidTimestampTZArray, `{"2026-11-26 05:48:19+00","2026-11-26 05:48:19+05:30",infinity}`,
		`["2026-11-26T05:48:19Z","2026-11-26T00:18:19Z","infinity"]`},
	{oidDateArray, `{2026-11-26,-infinity}`, `["2026-11-26","-infinity"]`},
	{oidBoxArray, `{(1,1),(0,0);(3,3),(2,2)}`, `["(1,1),(0,0)","(3,3),(2,2)"]`},
	{oidBoxArray, `{"(1,1),(0,0)"}`, `["(1,1),(0,0)"]`},
	{oidMoodArray, `{happy,"so so",NULL}`, `["happy","so so",null]`},
	{oidPosIntArray, `{1,2}`, `[1,2]`},
	{oidPairArray, `{"(1,\"x y\")",NULL}`, `["(1,\"x y\")",null]`},
	{oidIntListArray, `{"{1,2}","{}",NULL}`, `[[1,2],[],null]`},
	{oidUnknown + 1, `{1,2}`, `"{1,2}"`}, // an array type never resolved: a string

	// malformed arrays
	{oidInt4Array, ``, ``},
	{oidInt4Array, `{1,2`, ``},
	{oidInt4Array, `1,2}`, ``},
	{oidInt4Array, `{1,,2}`, ``},
	{oidInt4Array, `{1,}`, ``},
	{oidInt4Array, `{,1}`, ``},
	{oidInt4Array, `{1 2}`, ``},
	{oidInt4Array, `{x}`, ``},
	{oidInt4Array, `{1}x`, ``},
	{oidInt4Array, `{1}}`, ``},
	{oidInt4Array, `{{1}`, ``},
	{oidInt4Array, `{{1}{2}}`, ``},
	{oidInt4Array, `{1{2}}`, ``},
	{oidInt4Array, `{{{{{{{1}}}}}}}`, ``},
	{oidInt4Array, `[0:1]{1,2}`, ``},
	{oidInt4Array, `[a:1]={1}`, ``},
	{oidInt4Array, `[0:1=]{1}`, ``},
	{oidInt4Array, `[]={}`, ``},
	{oidTextArray, `{"a}`, ``},
	{oidTextArray, `{"a\"}`, ``},
	{oidTextArray, `{a"b}`, ``},
	{oidTextArray, `{"a"b}`, ``},
	{oidTextArray, `{a\`, ``},
	{oidTextArray, `{"a" "b"}`, ``},
	{oidTextArray, `{"a",}`, ``},
	{oidBoxArray, `{(1,1),(0,0),(3,3),(2,2)}`, `["(1,1),(0,0),(3,3),(2,2)"]`}, // ',' is box's, not a delimiter
	{oidJSONBArray, `{"{"}`, ``},
	{oidIntListArray, `{"{1,x}"}`, ``},
}

func TestAppendJSON(t *testing.T) {
	r := testRegistry()
	for _, c := range valueCases {
		prefix := []byte(`{"k":`)
		got, err := r.AppendJSON(prefix, c.oid, []byte(c.text))
		name := typeName(r, c.oid)
		if !bytes.HasPrefix(got, prefix) {
			t.Errorf("%s %q: prefix lost: %q", name, c.text, got)
			continue
		}
		got = got[len(prefix):]
		if c.want == "" {
			if err == nil {
				t.Errorf("%s %q: got %s, want an error", name, c.text, got)
			} else if !errors.Is(err, ErrSyntax) || len(got) != 0 {
				t.Errorf("%s %q: error %v (not ErrSyntax?) with output %q", name, c.text, err, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", name, c.text, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s %q:\n got %s\nwant %s", name, c.text, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s %q: invalid JSON %s", name, c.text, got)
		}
	}
}

func typeName(r *Registry, oid uint32) string {
	if t, ok := r.Type(oid); ok {
		return t.Name
	}
	return "unknown"
}

// TestAppendJSONErrors checks what errors say: the type, where, and no
// part of the value.
func TestAppendJSONErrors(t *testing.T) {
	r := testRegistry()
	_, err := r.AppendJSON(nil, oidInt4Array, []byte(`{1,secret}`))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SyntaxError", err)
	}
	if se.Type != "_int4" || se.Offset != 3 || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %#v: %v", se, err)
	}
	if !strings.Contains(err.Error(), "int4 element") {
		t.Errorf("error %v does not name the element type", err)
	}
}

func TestBytea(t *testing.T) {
	r := NewRegistry()
	for _, n := range []int{0, 1, 2, 3, 383, 384, 385, 386, 1000, 4096} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		want := `"` + base64.StdEncoding.EncodeToString(b) + `"`
		hexText := []byte(`\x`)
		var escText []byte
		for _, c := range b {
			hexText = append(hexText, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			switch {
			case c == '\\':
				escText = append(escText, '\\', '\\')
			case c < 0x20 || c >= 0x7f:
				escText = append(escText, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
			default:
				escText = append(escText, c)
			}
		}
		for _, text := range [][]byte{hexText, escText} {
			got, err := r.AppendJSON(nil, oidBytea, text)
			if err != nil || string(got) != want {
				t.Errorf("%d bytes: got %.40s…, %v; want %.40s…", n, got, err, want)
			}
		}
	}
}

// TestTimestampTZOffsets checks the conversion to UTC against package
// time over many instants and offsets.
func TestTimestampTZOffsets(t *testing.T) {
	r := NewRegistry()
	for _, offset := range []int{-12*3600 - 1800, -3600, -1, 1, 53*60 + 28, 5*3600 + 1800, 14 * 3600} {
		for instant := int64(-62135596800); instant < 253402300799; instant += 86400*97 + 3607 {
			utc := time.Unix(instant, 0).UTC()
			zone := utc.In(time.FixedZone("", offset))
			text := zone.Format("2006-01-02 15:04:05") + formatOffset(offset)
			want := `"` + utc.Format("2006-01-02T15:04:05") + `Z"`
			if zone.Year() < 1 || utc.Year() < 1 {
				continue // BC, which Go writes otherwise
			}
			got, err := r.AppendJSON(nil, oidTimestampTZ, []byte(text))
			if err != nil || string(got) != want {
				t.Fatalf("%s: got %s, %v; want %s", text, got, err, want)
			}
		}
	}
}

// formatOffset writes a UTC offset as Postgres does: ±hh[:mm[:ss]].
func formatOffset(offset int) string {
	sign := byte('+')
	if offset < 0 {
		sign, offset = '-', -offset
	}
	s := fmt.Sprintf("%c%02d", sign, offset/3600)
	if offset%3600 != 0 {
		s += fmt.Sprintf(":%02d", offset/60%60)
	}
	if offset%60 != 0 {
		s += fmt.Sprintf(":%02d", offset%60)
	}
	return s
}

// TestRegistryConcurrent converts while types are added, for the race
// detector.
func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var dst []byte
			for i := range 2000 {
				var err error
				if dst, err = r.AppendJSON(dst[:0], oidPosIntArray, []byte("{1,2}")); err != nil {
					t.Error(err)
					return
				}
				if g == 0 && i%100 == 0 {
					r.Add(userTypes...)
				}
			}
		})
	}
	wg.Wait()
	got, err := r.AppendJSON(nil, oidPosIntArray, []byte("{1,2}"))
	if err != nil || string(got) != "[1,2]" {
		t.Errorf("got %s, %v", got, err)
	}
}

func TestRegistryType(t *testing.T) {
	r := testRegistry()
	if typ, ok := r.Type(oidBoxArray); !ok || typ.Name != "_box" || typ.Elem != oidBox || typ.Delim != ';' || typ.Category != 'A' {
		t.Errorf("_box: %+v, %v", typ, ok)
	}
	if typ, ok := r.Type(oidMood); !ok || typ.Name != "mood" || typ.Category != 'E' {
		t.Errorf("mood: %+v, %v", typ, ok)
	}
	if _, ok := r.Type(oidUnknown); ok {
		t.Errorf("an unknown type is known")
	}
	// Built-in types cannot be replaced.
	r.Add(Type{OID: oidInt4, Name: "evil", Category: 'S'})
	if got, err := r.AppendJSON(nil, oidInt4, []byte("1")); err != nil || string(got) != "1" {
		t.Errorf("int4 after Add: %s, %v", got, err)
	}
	// A cycle of types ends.
	r.Add(Type{OID: 91001, Name: "a", Base: 91002}, Type{OID: 91002, Name: "b", Base: 91001},
		Type{OID: 91003, Name: "_c", Category: 'A', Elem: 91004}, Type{OID: 91004, Name: "c", Base: 91003})
	if got, err := r.AppendJSON(nil, 91001, []byte("x")); err != nil || string(got) != `"x"` {
		t.Errorf("cyclic domain: %s, %v", got, err)
	}
	if got, err := r.AppendJSON(nil, 91003, []byte(`{"{}"}`)); err != nil || string(got) != `[[]]` {
		t.Errorf("cyclic array: %s, %v", got, err)
	}
	deep := "{}"
	for range 10 {
		deep = `{"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(deep) + `"}`
	}
	if got, err := r.AppendJSON(nil, 91003, []byte(deep)); err == nil {
		t.Errorf("cyclic array nested 11 deep: %s, want an error", got)
	}
}

// TestAppendJSONAllocs checks that converting allocates nothing once dst
// has room.
func TestAppendJSONAllocs(t *testing.T) {
	r := testRegistry()
	dst := make([]byte, 0, 4096)
	for _, c := range valueCases {
		if c.want == "" {
			continue
		}
		text := []byte(c.text)
		if n := testing.AllocsPerRun(20, func() { _, _ = r.AppendJSON(dst[:0], c.oid, text) }); n != 0 {
			t.Errorf("%s %q: %v allocations", typeName(r, c.oid), c.text, n)
		}
	}
}
