package nexmark

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// Ids start at these values, as in the reference, so that queries find
// matches even over a short run.
const (
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
	NumCategories   = 5
)

// Config parameterizes the generator. Zero fields take the reference
// defaults (see Defaults).
type Config struct {
	// Seed selects the stream: every event is a pure function of the
	// seed and its number.
	Seed uint64
	// FirstEventRate is the number of events per second of event time
	// (10,000): event n is at BaseTime + n*1e6/FirstEventRate µs.
	FirstEventRate int64
	// BaseTime is the first event's time (2026-01-01T00:00:00Z).
	BaseTime time.Time

	// Of every PersonProportion+AuctionProportion+BidProportion
	// consecutive events, the first PersonProportion are people, the
	// next AuctionProportion auctions and the rest bids (1, 3, 46).
	PersonProportion, AuctionProportion, BidProportion int64

	// A bid is on a hot auction with probability 1-1/HotAuctionRatio (2),
	// by a hot bidder with probability 1-1/HotBiddersRatio (4); an
	// auction is by a hot seller with probability 1-1/HotSellersRatio (4).
	HotAuctionRatio, HotSellersRatio, HotBiddersRatio int64

	// NumInFlightAuctions is how many of the latest auctions a bid that is
	// not on a hot auction chooses from (100); it also sets the average
	// auction length.
	NumInFlightAuctions int64
	// NumActivePeople is how many of the latest people a seller or bidder
	// that is not hot is chosen from (1,000).
	NumActivePeople int64

	// The extra field pads each event to these average sizes in bytes, as
	// the reference measures them (200, 500, 100).
	AvgPersonByteSize, AvgAuctionByteSize, AvgBidByteSize int64
}

// The default proportions of people, auctions and bids.
const (
	defaultPersonProportion  = 1
	defaultAuctionProportion = 3
	defaultBidProportion     = 46
)

// defaultBaseTime is the first event's time when Config.BaseTime is zero.
var defaultBaseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Defaults returns the reference configuration (seed 0).
func Defaults() Config {
	return Config{
		FirstEventRate:      10_000,
		BaseTime:            defaultBaseTime,
		PersonProportion:    defaultPersonProportion,
		AuctionProportion:   defaultAuctionProportion,
		BidProportion:       defaultBidProportion,
		HotAuctionRatio:     2,
		HotSellersRatio:     4,
		HotBiddersRatio:     4,
		NumInFlightAuctions: 100,
		NumActivePeople:     1000,
		AvgPersonByteSize:   200,
		AvgAuctionByteSize:  500,
		AvgBidByteSize:      100,
	}
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	def := func(v *int64, dv int64) {
		if *v == 0 {
			*v = dv
		}
	}
	def(&c.FirstEventRate, d.FirstEventRate)
	if c.BaseTime.IsZero() {
		c.BaseTime = d.BaseTime
	}
	def(&c.PersonProportion, d.PersonProportion)
	def(&c.AuctionProportion, d.AuctionProportion)
	def(&c.BidProportion, d.BidProportion)
	def(&c.HotAuctionRatio, d.HotAuctionRatio)
	def(&c.HotSellersRatio, d.HotSellersRatio)
	def(&c.HotBiddersRatio, d.HotBiddersRatio)
	def(&c.NumInFlightAuctions, d.NumInFlightAuctions)
	def(&c.NumActivePeople, d.NumActivePeople)
	def(&c.AvgPersonByteSize, d.AvgPersonByteSize)
	def(&c.AvgAuctionByteSize, d.AvgAuctionByteSize)
	def(&c.AvgBidByteSize, d.AvgBidByteSize)
	return c
}

// Limits keeping the generator's arithmetic far from overflow.
const (
	maxProportion = 1 << 20
	maxRatio      = 1 << 30
	maxCount      = 1 << 30
	maxByteSize   = 1 << 20
)

// Validate reports whether c, with its zero fields defaulted, is usable.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(name string, v, max int64) {
		if v < 1 || v > max {
			errs = append(errs, fmt.Errorf("nexmark: %s is %d, want 1 to %d (0 for the default)", name, v, max))
		}
	}
	check("FirstEventRate", c.FirstEventRate, 1_000_000_000)
	check("PersonProportion", c.PersonProportion, maxProportion)
	check("AuctionProportion", c.AuctionProportion, maxProportion)
	check("BidProportion", c.BidProportion, maxProportion)
	check("HotAuctionRatio", c.HotAuctionRatio, maxRatio)
	check("HotSellersRatio", c.HotSellersRatio, maxRatio)
	check("HotBiddersRatio", c.HotBiddersRatio, maxRatio)
	check("NumInFlightAuctions", c.NumInFlightAuctions, maxCount)
	check("NumActivePeople", c.NumActivePeople, maxCount)
	check("AvgPersonByteSize", c.AvgPersonByteSize, maxByteSize)
	check("AvgAuctionByteSize", c.AvgAuctionByteSize, maxByteSize)
	check("AvgBidByteSize", c.AvgBidByteSize, maxByteSize)
	if y := c.BaseTime.Year(); y < 1 || y > 9999 {
		errs = append(errs, fmt.Errorf("nexmark: BaseTime %v is out of range", c.BaseTime))
	}
	return errors.Join(errs...)
}

func (c Config) total() int64 { return c.PersonProportion + c.AuctionProportion + c.BidProportion }

// KindOf says which kind event n is, without generating it.
func (c Config) KindOf(n int64) Kind {
	p, a, b := c.PersonProportion, c.AuctionProportion, c.BidProportion
	if p == 0 {
		p = defaultPersonProportion
	}
	if a == 0 {
		a = defaultAuctionProportion
	}
	if b == 0 {
		b = defaultBidProportion
	}
	return kindOf(n, p, a, p+a+b)
}

func kindOf(n, person, auction, total int64) Kind {
	switch rem := n % total; {
	case rem < person:
		return KindPerson
	case rem < person+auction:
		return KindAuction
	default:
		return KindBid
	}
}

// TimeOf is event n's time, in microseconds since the Unix epoch.
func (c Config) TimeOf(n int64) int64 {
	c = c.withDefaults()
	return c.BaseTime.UnixMicro() + offsetMicros(n, c.FirstEventRate)
}

// offsetMicros is floor(n * 1e6 / rate): how far event n is after the
// first, in microseconds.
func offsetMicros(n, rate int64) int64 {
	if n < 0 {
		return 0
	}
	if n <= (1<<63-1)/1_000_000 {
		return n * 1_000_000 / rate
	}
	hi, lo := bits.Mul64(uint64(n), 1_000_000)
	if hi >= uint64(rate) {
		return 1<<63 - 1 // beyond any representable time
	}
	q, _ := bits.Div64(hi, lo, uint64(rate))
	if q > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(q)
}

// lastPersonBase0 is the base-0 id of the latest person at or before
// event n: event n's own id if it is a person.
func (c *Config) lastPersonBase0(n int64) int64 {
	epoch, off := n/c.total(), n%c.total()
	if off >= c.PersonProportion {
		off = c.PersonProportion - 1
	}
	return epoch*c.PersonProportion + off
}

// lastAuctionBase0 is the base-0 id of the latest auction at or before
// event n: event n's own id if it is an auction; -1 before the first.
func (c *Config) lastAuctionBase0(n int64) int64 {
	epoch, off := n/c.total(), n%c.total()
	switch {
	case off < c.PersonProportion:
		epoch--
		off = c.AuctionProportion - 1
	case off >= c.PersonProportion+c.AuctionProportion:
		off = c.AuctionProportion - 1
	default:
		off -= c.PersonProportion
	}
	return epoch*c.AuctionProportion + off
}
