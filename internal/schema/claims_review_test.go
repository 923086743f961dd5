package schema

import (
	"context"
	"errors"
	"math"
	"testing"
)

// Ids travel in 4-byte frames: an import past int32 is refused, and once an
// import took the last id, automatic ids are refused rather than overflow.
func TestImportIDRange(t *testing.T) {
	r := newRegistry(t)
	ctx := context.Background()
	if err := r.SetMode(ctx, "", Import, false); err != nil {
		t.Fatal(err)
	}
	id, _, err := r.Register(ctx, "s", in("a"), RegisterOptions{ID: math.MaxInt32})
	if err != nil {
		t.Fatal(err)
	}
	if id != math.MaxInt32 {
		t.Fatalf("imported id %d", id)
	}
	if _, _, err := r.Register(ctx, "s", in("a,b?"), RegisterOptions{ID: 1 << 40}); !hasCode(err, CodeOperationNotPermitted) {
		t.Errorf("importing id 1<<40: %v, want 42205", err)
	}
	if err := r.SetMode(ctx, "", ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	if next, _, err := r.Register(ctx, "t", in("x"), RegisterOptions{}); !hasCode(err, CodeOperationNotPermitted) {
		t.Errorf("an automatic id after the last: %d, %v; want 42205", next, err)
	}
}

func hasCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Re-registering a schema hard-deletes its soft-deleted versions
// (register.go:337) without the reference check DeleteVersion makes: a
// version a live schema references disappears, and the referencing
// subject can no longer evolve.
func TestReregisterKeepsReferencedSoftDeletedVersions(t *testing.T) {
	r := newRegistry(t)
	ctx := context.Background()
	register(t, r, "s", "a")
	if _, err := r.DeleteVersion(ctx, "s", 1, false); err != nil {
		t.Fatal(err)
	}
	register(t, r, "t", "ref:x", Reference{Name: "x", Subject: "s", Version: 1}) // a soft-deleted version may be referenced
	register(t, r, "s", "a")                                                     // would drop s v1, which t references
	if refs, err := r.ReferencedBy("s", 1); err == nil {
		t.Logf("s v1 still there, referenced by %v", refs)
		return
	}
	r.parsed.Lock()
	clear(r.parsed.byID) // as a freshly started worker
	r.parsed.Unlock()
	_, _, err := r.Register(ctx, "t", in("ref:x,b?", Reference{Name: "x", Subject: "s", Version: 2}), RegisterOptions{})
	t.Errorf("s v1 was hard-deleted while t's live schema references it; next registration under t: %v", err)
}
