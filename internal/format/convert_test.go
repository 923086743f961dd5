package format

import (
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// convertTo against Postgres' casts, and an error (never a zero value
// taken for a result) for a pair convertible refuses.
func TestConvertTo(t *testing.T) {
	for _, c := range []struct {
		from types.Value
		to   types.Kind
		want string // the result's text, or "error"
	}{
		{types.NewBool(true), types.KindText, "true"},
		{types.NewInt8(70000), types.KindInt2, "error"},
		{types.NewInt8(-7), types.KindInt2, "-7"},
		{types.NewInt4(3), types.KindNumeric, "3"},
		{types.NewInt4(3), types.KindFloat8, "3"},
		{types.NewFloat8(0.1), types.KindNumeric, "0.1"},
		{types.NewText("2024-02-29"), types.KindDate, "2024-02-29"},
		{types.NewText("x"), types.KindInt4, "error"},
		{types.NewDate(0), types.KindTimestampTZ, "1970-01-01 00:00:00+00"},
		{types.NewTimestampTZ(-1), types.KindDate, "1969-12-31"},
		{types.NewBytea([]byte{0xab}), types.KindText, `\xab`},
		{types.NewInt8(1), types.KindJSON, "1"},
		{types.Null(types.KindInt8), types.KindDate, "NULL"},
		// Pairs convertible refuses: an error, whatever convertTo is
		// handed (the encoder converts what a row holds).
		{types.NewInt8(19000), types.KindDate, "error"},
		{types.NewInt4(1), types.KindBool, "error"},
		{types.NewInt4(1), types.KindInterval, "error"},
		{types.NewFloat8(1), types.KindInt8, "error"},
		{types.NewBool(true), types.KindInt4, "error"},
	} {
		var got types.Value
		err := convertTo(c.from, c.to, &got)
		text := got.String()
		if err != nil {
			text = "error"
		} else if got.Kind() != c.to {
			text = "a " + got.Kind().String()
		}
		if text != c.want {
			t.Errorf("%s %s to %s: got %s (%v), want %s", c.from.Kind(), c.from, c.to, text, err, c.want)
		}
	}
}

// A numeric past double precision's range is Postgres' error, short and
// coded, not strconv's quoting all of its digits.
func TestConvertNumericOverflow(t *testing.T) {
	huge, err := types.ParseText(types.KindNumeric, "9"+strings.Repeat("0", 5000))
	if err != nil {
		t.Fatal(err)
	}
	var got types.Value
	err = convertTo(huge, types.KindFloat8, &got)
	var te *types.Error
	if !errors.As(err, &te) || te.Code != types.CodeNumericValueOutOfRange || len(err.Error()) > 100 {
		t.Errorf("numeric 9e5000 to double precision: %v", err)
	}
}
