package format

import (
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/tide-data/tide/internal/sql/types"
)

// convertible reports whether a value of kind from can be stored in a
// column of kind to (convertTo may still fail on the value: a long out of
// a smallint's range, a string that is no timestamp). The rules follow
// Postgres' assignment casts, plus text read as any type by its input
// function and anything written as JSON.
func convertible(from, to types.Kind) bool {
	switch {
	case from == to, from == types.KindNull, to == types.KindText, to == types.KindJSON, from == types.KindText:
		return true
	case from.IsInteger():
		return to.IsNumeric()
	case from == types.KindFloat8, from == types.KindNumeric:
		return to == types.KindFloat8 || to == types.KindNumeric
	case from == types.KindDate, from == types.KindTimestamp, from == types.KindTimestampTZ:
		return to == types.KindDate || to == types.KindTimestamp || to == types.KindTimestampTZ
	}
	return false
}

// convertTo stores v in *dst as kind k. Timestamps without a zone are
// taken as UTC.
func convertTo(v types.Value, k types.Kind, dst *types.Value) error {
	from := v.Kind()
	switch {
	case v.IsNull():
		*dst = types.Null(k)
		return nil
	case from == k:
		*dst = v
		return nil
	case k == types.KindText && from == types.KindBool:
		*dst = types.NewText(strconv.FormatBool(v.Bool())) // as Postgres casts it
		return nil
	case k == types.KindText:
		*dst = types.NewText(v.String())
		return nil
	case from == types.KindText:
		// The type's input function; for json, the text is parsed.
		out, err := types.ParseText(k, v.Text())
		if err != nil {
			return err
		}
		*dst = out
		return nil
	case k == types.KindJSON:
		text, err := appendJSONValue(nil, &v)
		if err != nil {
			return err
		}
		*dst = types.NewJSON(string(text))
		return nil
	case from.IsInteger():
		n := v.Int()
		switch {
		case k.IsInteger():
			if err := types.CheckIntRange(k, n); err != nil {
				return err
			}
			*dst = types.NewInt(k, n)
		case k == types.KindFloat8:
			*dst = types.NewFloat8(float64(n))
		case k == types.KindNumeric:
			*dst = types.NewNumeric(apd.New(n, 0))
		default:
			return types.Errorf(types.CodeCannotCoerce, "cannot convert %s to %s", from, k)
		}
		return nil
	case from == types.KindFloat8 && k == types.KindNumeric:
		d, err := types.ParseNumeric(v.String())
		if err != nil {
			return err
		}
		*dst = types.NewNumeric(d)
		return nil
	case from == types.KindNumeric && k == types.KindFloat8:
		f, err := v.Decimal().Float64()
		if err != nil {
			// strconv's error quotes every digit; Postgres' says this.
			return &types.Error{Code: types.CodeNumericValueOutOfRange, Message: "value out of range: overflow"}
		}
		*dst = types.NewFloat8(f)
		return nil
	}
	return convertTime(v, k, dst)
}

// convertTime converts between date, timestamp and timestamptz.
func convertTime(v types.Value, k types.Kind, dst *types.Value) error {
	var us int64
	switch v.Kind() {
	case types.KindDate:
		days := int64(v.Days())
		switch days {
		case types.DateInfinity:
			us = types.TimestampInfinity
		case types.DateNegInfinity:
			us = types.TimestampNegInfinity
		default:
			us = days * types.MicrosPerDay
			if err := types.CheckTimestamp(us); err != nil {
				return err
			}
		}
	case types.KindTimestamp, types.KindTimestampTZ:
		us = v.Micros()
	default:
		return types.Errorf(types.CodeCannotCoerce, "cannot convert %s to %s", v.Kind(), k)
	}
	switch k {
	case types.KindTimestamp:
		*dst = types.NewTimestamp(us)
	case types.KindTimestampTZ:
		*dst = types.NewTimestampTZ(us)
	case types.KindDate:
		switch us {
		case types.TimestampInfinity:
			*dst = types.NewDate(types.DateInfinity)
		case types.TimestampNegInfinity:
			*dst = types.NewDate(types.DateNegInfinity)
		default:
			*dst = types.NewDate(int32(types.FloorDiv(us, types.MicrosPerDay)))
		}
	default:
		return types.Errorf(types.CodeCannotCoerce, "cannot convert %s to %s", v.Kind(), k)
	}
	return nil
}
