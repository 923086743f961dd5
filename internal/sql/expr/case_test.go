package expr

import (
	"strings"
	"testing"
)

// toUpper and toLower take a fast path for ASCII; they must agree with
// the strings package everywhere.
func TestASCIICaseMatchesStrings(t *testing.T) {
	for _, s := range []string{"", "a", "Z", "paid", "PAID", "Shipped-2026", "@[`{", "mixed Case 123", "straße", "ÉCOLE", "éa", "a\x00b", "\xff"} {
		if got, want := toUpper(s), strings.ToUpper(s); got != want {
			t.Errorf("toUpper(%q) = %q, want %q", s, got, want)
		}
		if got, want := toLower(s), strings.ToLower(s); got != want {
			t.Errorf("toLower(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzASCIICase(f *testing.F) {
	f.Add("Hello, World")
	f.Add("ÀÉÎ")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := toUpper(s), strings.ToUpper(s); got != want {
			t.Errorf("toUpper(%q) = %q, want %q", s, got, want)
		}
		if got, want := toLower(s), strings.ToLower(s); got != want {
			t.Errorf("toLower(%q) = %q, want %q", s, got, want)
		}
	})
}
