package format

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/types"
)

// TestAppendISODateAllDays checks the date fast path against time.Time
// for every day of years 1..9999, and that it declines the days around.
func TestAppendISODateAllDays(t *testing.T) {
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, days := range []int64{minISODays - 1, maxISODays + 1, -800000, 3000000} {
		if got, ok := appendISODate(nil, days); ok || len(got) != 0 {
			t.Errorf("days %d: got %q, %v; want declined", days, got, ok)
		}
	}
	var buf []byte
	for days := int64(minISODays); days <= maxISODays; days++ {
		var ok bool
		buf, ok = appendISODate(buf[:0], days)
		want := epoch.AddDate(0, 0, int(days)).Format("2006-01-02")
		if !ok || string(buf) != want {
			t.Fatalf("days %d: got %q, %v; want %q", days, buf, ok, want)
		}
	}
}

// TestAppendISOTimestamp checks the timestamp fast path against
// time.Time (trailing zeros of the fraction dropped) at the edges of the
// range and at random instants in it.
func TestAppendISOTimestamp(t *testing.T) {
	lo, hi := int64(minISODays)*types.MicrosPerDay, (int64(maxISODays)+1)*types.MicrosPerDay-1
	if got, ok := appendISOTimestamp([]byte("x"), lo-1); ok || string(got) != "x" {
		t.Errorf("before year 1: got %q, %v", got, ok)
	}
	if got, ok := appendISOTimestamp([]byte("x"), hi+1); ok || string(got) != "x" {
		t.Errorf("after year 9999: got %q, %v", got, ok)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []int64{lo, hi, 0, -1, 1, 1_000_000, 123_456_000, 1_764_158_400_123_456}
	for range 200_000 {
		us := lo + rng.Int64N(hi-lo+1)
		cases = append(cases, us, us-us%1000, us-us%types.MicrosPerSecond)
	}
	for _, us := range cases {
		got, ok := appendISOTimestamp([]byte("x"), us)
		want := "x" + time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.999999")
		if !ok || string(got) != want {
			t.Fatalf("micros %d: got %q, %v; want %q", us, got, ok, want)
		}
	}
}
