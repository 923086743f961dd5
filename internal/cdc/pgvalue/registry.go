package pgvalue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Type is what the converter needs to know of a Postgres type: part of
// its pg_type row.
type Type struct {
	OID      uint32
	Name     string // typname
	Category byte   // typcategory: 'A' array, 'B' bool, 'E' enum, 'N' numeric, 'S' string, 'U' user, ...
	Elem     uint32 // typelem: an array's element type
	Base     uint32 // typbasetype: a domain's base type, else 0
	Delim    byte   // typdelim: the delimiter between elements of arrays of this type, ',' but for box (';')
}

// kind is how AppendJSON converts a type's values: one per representation
// of the package doc's table.
type kind uint8

const (
	kindString      kind = iota // a JSON string of the text: the default
	kindBool                    // t/f → true/false
	kindNumber                  // a JSON number as it is: integers
	kindFloat                   // a JSON number, or "NaN", "Infinity", "-Infinity"
	kindJSON                    // json, jsonb: embedded as they are
	kindBytea                   // base64 of the bytes
	kindDate                    // ISO date, as it is
	kindTimestamp               // the space before the time becomes 'T'
	kindTimestampTZ             // as kindTimestamp, in UTC with 'Z'
	kindInterval                // ISO 8601 duration, as it is
	kindArray                   // a JSON array of the elements' representations
)

// entry is what a Registry knows of one type. Entries are immutable once
// a Registry publishes them.
type entry struct {
	typ   Type
	kind  kind   // a domain has its base type's
	elem  *entry // kindArray: the element type; nil when unknown (elements are strings)
	delim byte   // kindArray: the delimiter between elements
}

// Registry resolves type OIDs to what AppendJSON needs of them. Built-in
// types are known from the start; others (enums, domains, composite and
// extension types, arrays of them) are loaded from pg_type by Resolve or
// given to Add. A type's OID is taken to keep its meaning for the life of
// the Registry.
//
// A Registry is safe for concurrent use. Lookups, once per value, take no
// lock: they read an immutable map that Add and Resolve replace.
type Registry struct {
	types atomic.Pointer[map[uint32]*entry] // never modified once stored
	mu    sync.Mutex                        // serializes replacing types
}

// NewRegistry returns a Registry that knows the built-in types.
func NewRegistry() *Registry {
	r := &Registry{}
	r.types.Store(&builtinEntries)
	return r
}

// lookup returns the entry of oid, nil if it is unknown.
func (r *Registry) lookup(oid uint32) *entry {
	return (*r.types.Load())[oid]
}

// Type returns what r knows of the type oid.
func (r *Registry) Type(oid uint32) (Type, bool) {
	if e := r.lookup(oid); e != nil {
		return e.typ, true
	}
	return Type{}, false
}

// Add makes types known, replacing what was known of their OIDs; built-in
// types cannot be replaced and are skipped. A domain or array may come
// before its base or element type, in the same call or a later one.
func (r *Registry) Add(types ...Type) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.types.Load()
	next := make(map[uint32]*entry, len(old)+len(types))
	for oid, e := range old {
		if builtinEntries[oid] != nil {
			next[oid] = e
		} else {
			next[oid] = &entry{typ: e.typ} // derived afresh below: its base or element may be new
		}
	}
	for _, t := range types {
		if builtinEntries[t.OID] == nil {
			next[t.OID] = &entry{typ: t}
		}
	}
	for oid, e := range next {
		if builtinEntries[oid] == nil {
			derive(next, e)
		}
	}
	r.types.Store(&next)
}

// maxDomainChain bounds the domains followed to a base type, so that a
// cycle given to Add ends.
const maxDomainChain = 32

// derive sets e's kind, elem and delim from its type, its base types and
// its element type in types.
func derive(types map[uint32]*entry, e *entry) {
	b := e // the type whose values e's are: e, or the base type of a domain
	for n := 0; b.typ.Base != 0; n++ {
		if b = types[b.typ.Base]; b == nil || n == maxDomainChain {
			return // an unknown base: a string
		}
	}
	if builtinEntries[b.typ.OID] != nil {
		e.kind, e.elem, e.delim = b.kind, b.elem, b.delim
		return
	}
	if b.typ.Category == 'A' && b.typ.Elem != 0 {
		e.kind, e.elem, e.delim = kindArray, types[b.typ.Elem], b.typ.Delim
		if e.elem != nil && e.elem.typ.Delim != 0 {
			e.delim = e.elem.typ.Delim // Postgres uses the element type's
		}
		if e.delim == 0 {
			e.delim = ','
		}
	}
}

// Querier runs a query; *pgx.Conn, *pgxpool.Pool and pgx.Tx satisfy it.
// Resolve passes pgx.QueryExecModeSimpleProtocol as the only argument, so
// any connection that takes plain SQL will do.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Resolve makes sure the types oids are known, loading those that are not
// from pg_type with one query, which follows element and base types. OIDs
// that pg_type does not hold stay unknown: their values are strings. An
// error is the query's; nothing is learnt then.
func (r *Registry) Resolve(ctx context.Context, q Querier, oids ...uint32) error {
	known := *r.types.Load()
	var list []byte
	for _, oid := range oids {
		if oid != 0 && known[oid] == nil {
			if len(list) > 0 {
				list = append(list, ',')
			}
			list = strconv.AppendUint(list, uint64(oid), 10)
		}
	}
	if len(list) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `WITH RECURSIVE t AS (
	SELECT oid, typname, typcategory, typelem, typbasetype, typdelim FROM pg_catalog.pg_type WHERE oid IN (`+string(list)+`)
	UNION
	SELECT p.oid, p.typname, p.typcategory, p.typelem, p.typbasetype, p.typdelim
	FROM pg_catalog.pg_type p JOIN t ON p.oid IN (t.typelem, t.typbasetype)
)
SELECT oid, typname::text, typcategory::text, typelem, typbasetype, typdelim::text FROM t`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return fmt.Errorf("pgvalue: load types: %w", err)
	}
	defer rows.Close()
	var types []Type
	for rows.Next() {
		var t Type
		var category, delim string
		if err := rows.Scan(&t.OID, &t.Name, &category, &t.Elem, &t.Base, &delim); err != nil {
			return fmt.Errorf("pgvalue: load types: %w", err)
		}
		if len(category) == 1 {
			t.Category = category[0]
		}
		if len(delim) == 1 {
			t.Delim = delim[0]
		}
		types = append(types, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgvalue: load types: %w", err)
	}
	if len(types) > 0 {
		r.Add(types...)
	}
	return nil
}
