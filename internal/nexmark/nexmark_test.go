package nexmark

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func newGen(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func generate(t testing.TB, cfg Config, n int) []Event {
	t.Helper()
	g := newGen(t, cfg)
	evs := make([]Event, n)
	for i := range evs {
		g.Next(&evs[i])
	}
	return evs
}

func TestDeterminism(t *testing.T) {
	cfg := Defaults()
	cfg.Seed = 42
	a := generate(t, cfg, 20_000)
	b := generate(t, cfg, 20_000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs between two runs with one seed:\n%+v\n%+v", i, a[i], b[i])
		}
	}

	cfg.Seed = 43
	c := generate(t, cfg, 20_000)
	differ := 0
	for i := range a {
		if a[i] != c[i] {
			differ++
		}
	}
	if differ < len(a)*99/100 {
		t.Fatalf("seeds 42 and 43 differ in only %d of %d events", differ, len(a))
	}
}

// Reusing one Event gives what fresh Events get: nothing of an earlier
// event's kind stays behind.
func TestNextReusesEvent(t *testing.T) {
	want := generate(t, Defaults(), 2000)
	g := newGen(t, Defaults())
	var ev Event
	for i := range want {
		g.Next(&ev)
		if ev != want[i] {
			t.Fatalf("event %d into a reused Event:\n%+v\nwant\n%+v", i, ev, want[i])
		}
	}
}

func TestSeek(t *testing.T) {
	cfg := Defaults()
	cfg.Seed = 7
	const n = 10_000
	want := generate(t, cfg, n)
	g := newGen(t, cfg)
	var ev Event
	for _, k := range []int64{0, 1, 2, 49, 50, 51, 4321, 9999, 3, 5000, 4999} {
		g.SeekEvent(k)
		if g.Number() != k {
			t.Fatalf("Number after SeekEvent(%d) = %d", k, g.Number())
		}
		g.Next(&ev)
		if ev != want[k] {
			t.Fatalf("SeekEvent(%d) then Next:\n%+v\nwant\n%+v", k, ev, want[k])
		}
		if g.Number() != k+1 {
			t.Fatalf("Number after SeekEvent(%d) and Next = %d", k, g.Number())
		}
	}
	// A fresh generator resumed mid-stream continues the stream.
	r := newGen(t, cfg)
	r.SeekEvent(7777)
	for k := int64(7777); k < n; k++ {
		r.Next(&ev)
		if ev != want[k] {
			t.Fatalf("resumed at 7777, event %d differs", k)
		}
	}
	// Far events are reachable and deterministic too.
	far := int64(1) << 40
	g.SeekEvent(far)
	g.Next(&ev)
	r.SeekEvent(far)
	var ev2 Event
	r.Next(&ev2)
	if ev != ev2 {
		t.Fatalf("event %d differs between generators", far)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SeekEvent(-1) did not panic")
		}
	}()
	g.SeekEvent(-1)
}

func TestProportions(t *testing.T) {
	for n := range int64(1000) {
		if got, want := (Config{}).KindOf(n), Defaults().KindOf(n); got != want {
			t.Fatalf("zero Config: KindOf(%d) = %v, defaults' %v", n, got, want)
		}
	}
	for _, cfg := range []Config{Defaults(), {PersonProportion: 2, AuctionProportion: 5, BidProportion: 13}, {BidProportion: 1}} {
		c := cfg.withDefaults()
		total := c.total()
		g := newGen(t, cfg)
		var ev Event
		for epoch := range int64(200) {
			var counts [3]int64
			for i := range total {
				n := epoch*total + i
				g.Next(&ev)
				if k := cfg.KindOf(n); k != ev.Kind {
					t.Fatalf("KindOf(%d) = %v, Next made a %v", n, k, ev.Kind)
				}
				// People first, then auctions, then bids.
				want := KindBid
				if i < c.PersonProportion {
					want = KindPerson
				} else if i < c.PersonProportion+c.AuctionProportion {
					want = KindAuction
				}
				if ev.Kind != want {
					t.Fatalf("event %d (offset %d of %d) is a %v, want a %v", n, i, total, ev.Kind, want)
				}
				counts[ev.Kind]++
			}
			if counts != [3]int64{c.PersonProportion, c.AuctionProportion, c.BidProportion} {
				t.Fatalf("epoch %d: %v people/auctions/bids", epoch, counts)
			}
		}
	}
}

// The ids are as the reference numbers them, and references point at
// generated ids or, as the reference allows, at most ten ahead of the
// last generated one.
func TestIDs(t *testing.T) {
	const n = 500_000
	g := newGen(t, Config{Seed: 3})
	var ev Event
	lastPerson, lastAuction := int64(FirstPersonID-1), int64(FirstAuctionID-1)
	var refs, ahead int
	check := func(what string, id, last, lead int64) {
		refs++
		if id < FirstPersonID || id > last+lead {
			t.Fatalf("event %d: %s %d, last generated %d", g.Number()-1, what, id, last)
		}
		if id > last {
			ahead++
		}
	}
	for range n {
		g.Next(&ev)
		switch ev.Kind {
		case KindPerson:
			if ev.Person.ID != lastPerson+1 {
				t.Fatalf("event %d: person %d after %d", g.Number()-1, ev.Person.ID, lastPerson)
			}
			lastPerson = ev.Person.ID
		case KindAuction:
			if ev.Auction.ID != lastAuction+1 {
				t.Fatalf("event %d: auction %d after %d", g.Number()-1, ev.Auction.ID, lastAuction)
			}
			lastAuction = ev.Auction.ID
			check("seller", ev.Auction.Seller, lastPerson, personIDLead)
			if c := ev.Auction.Category; c < FirstCategoryID || c >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: category %d", g.Number()-1, c)
			}
		case KindBid:
			check("auction", ev.Bid.Auction, lastAuction, auctionIDLead)
			check("bidder", ev.Bid.Bidder, lastPerson, personIDLead)
			// A bid is on one of the in-flight auctions (or a lead).
			if ev.Bid.Auction < lastAuction-100 {
				t.Fatalf("event %d: bid on auction %d, last %d", g.Number()-1, ev.Bid.Auction, lastAuction)
			}
		}
	}
	if first := generate(t, Defaults(), 2); first[0].Person.ID != 1000 || first[1].Auction.ID != 1000 {
		t.Fatalf("first person %d, first auction %d; want 1000, 1000", first[0].Person.ID, first[1].Auction.ID)
	}
	if lastPerson != FirstPersonID+n/50-1 || lastAuction != FirstAuctionID+3*n/50-1 {
		t.Fatalf("after %d events last person %d, last auction %d", n, lastPerson, lastAuction)
	}
	// About 1 in 22 bids (a cold auction draw: 1/2 × 10/111) names an
	// auction not yet generated, about 1 in 100 a bidder (hot bidders are
	// the batch's second person, so ahead when the batch has one).
	t.Logf("%d of %d references ahead of the last generated id", ahead, refs)
	if ahead > refs/25 {
		t.Fatalf("%d of %d references ahead of the last generated id", ahead, refs)
	}
}

// Hot auctions, bidders and sellers take the reference's shares: 1-1/2 of
// bids on the hot auction, 1-1/4 by the hot bidder, 1-1/4 of auctions by
// the hot seller (plus the few cold draws that happen to pick them).
func TestHotRatios(t *testing.T) {
	for _, ratio := range []int64{2, 4, 10} {
		cfg := Config{Seed: 11, HotAuctionRatio: ratio, HotBiddersRatio: ratio, HotSellersRatio: ratio}
		g := newGen(t, cfg)
		var ev Event
		var bids, hotAuction, hotBidder, auctions, hotSeller int
		for range 1_000_000 {
			n := g.Number()
			g.Next(&ev)
			c := &g.cfg
			switch ev.Kind {
			case KindBid:
				bids++
				if ev.Bid.Auction == c.lastAuctionBase0(n)/100*100+FirstAuctionID {
					hotAuction++
				}
				if ev.Bid.Bidder == c.lastPersonBase0(n)/100*100+1+FirstPersonID {
					hotBidder++
				}
			case KindAuction:
				auctions++
				if ev.Auction.Seller == c.lastPersonBase0(n)/100*100+FirstPersonID {
					hotSeller++
				}
			}
		}
		want := 1 - 1/float64(ratio)
		for _, s := range []struct {
			what       string
			got, of    int
			coldChance float64 // a cold draw picking the hot one, at most
		}{
			{"bids on hot auctions", hotAuction, bids, 1.0 / 101},
			{"bids by hot bidders", hotBidder, bids, 1.0 / 60},
			{"auctions by hot sellers", hotSeller, auctions, 1.0 / 60},
		} {
			share := float64(s.got) / float64(s.of)
			t.Logf("ratio %d: %s %.4f (want %.4f + cold draws)", ratio, s.what, share, want)
			if share < want-0.01 || share > want+(1-want)*s.coldChance+0.01 {
				t.Errorf("ratio %d: %s: %.4f, want about %.4f", ratio, s.what, share, want)
			}
		}
	}
}

func TestTimestamps(t *testing.T) {
	for _, cfg := range []Config{
		Defaults(),
		{FirstEventRate: 3, BaseTime: time.Date(2020, 2, 3, 4, 5, 6, 7000, time.UTC)},
		{FirstEventRate: 7_000_000},
	} {
		c := cfg.withDefaults()
		g := newGen(t, cfg)
		base := c.BaseTime.UnixMicro()
		var ev Event
		prev := int64(math.MinInt64)
		var auctions int
		var length float64
		for n := range int64(100_000) {
			g.Next(&ev)
			var ts int64
			switch ev.Kind {
			case KindPerson:
				ts = ev.Person.DateTime
			case KindAuction:
				ts = ev.Auction.DateTime
				if ev.Auction.Expires <= ts {
					t.Fatalf("event %d: auction expires at %d, opened at %d", n, ev.Auction.Expires, ts)
				}
				auctions++
				length += float64(ev.Auction.Expires - ts)
			case KindBid:
				ts = ev.Bid.DateTime
			}
			if want := base + n*1_000_000/c.FirstEventRate; ts != want {
				t.Fatalf("rate %d: event %d at %d, want %d", c.FirstEventRate, n, ts, want)
			}
			if got := cfg.TimeOf(n); got != ts {
				t.Fatalf("TimeOf(%d) = %d, event at %d", n, got, ts)
			}
			if ts < prev {
				t.Fatalf("event %d at %d before event %d's %d", n, ts, n-1, prev)
			}
			prev = ts
		}
		// An auction lasts on average as long as the events that
		// generate the next NumInFlightAuctions auctions take.
		horizon := float64(c.NumInFlightAuctions*c.total()/c.AuctionProportion) * 1e6 / float64(c.FirstEventRate)
		if mean := length / float64(auctions); horizon >= 100 && math.Abs(mean/horizon-1) > 0.05 {
			t.Errorf("rate %d: mean auction length %.0f µs, want about %.0f", c.FirstEventRate, mean, horizon)
		}
	}
	// Far event numbers do not overflow.
	c := Config{FirstEventRate: 1}
	if got, want := c.TimeOf(1<<40)-c.TimeOf(0), int64(1<<40)*1_000_000; got != want {
		t.Fatalf("TimeOf(2^40) - TimeOf(0) = %d at 1 event/s, want %d", got, want)
	}
	c = Config{FirstEventRate: 1_000_000_000}
	if got, want := c.TimeOf(1<<62)-c.TimeOf(0), int64(1<<62)/1000; got != want {
		t.Fatalf("TimeOf(2^62) - TimeOf(0) = %d, want %d", got, want)
	}
}

// refSize is an event's size as the reference counts it when padding:
// eight bytes a number (not the event time), the strings' lengths; a
// bid's channel and URL are not counted.
func refSize(ev *Event) int {
	switch ev.Kind {
	case KindPerson:
		p := &ev.Person
		return 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
	case KindAuction:
		a := &ev.Auction
		return 8 + len(a.ItemName) + len(a.Description) + 5*8 + len(a.Extra)
	default:
		return 4*8 + len(ev.Bid.Extra)
	}
}

// jsonSize is the size of the event as a JSON object of its fields.
func jsonSize(t *testing.T, ev *Event) int {
	var m map[string]any
	switch ev.Kind {
	case KindPerson:
		p := ev.Person
		m = map[string]any{"id": p.ID, "name": p.Name, "emailAddress": p.EmailAddress, "creditCard": p.CreditCard,
			"city": p.City, "state": p.State, "dateTime": p.DateTime, "extra": p.Extra}
	case KindAuction:
		a := ev.Auction
		m = map[string]any{"id": a.ID, "itemName": a.ItemName, "description": a.Description, "initialBid": a.InitialBid,
			"reserve": a.Reserve, "dateTime": a.DateTime, "expires": a.Expires, "seller": a.Seller, "category": a.Category, "extra": a.Extra}
	default:
		b := ev.Bid
		m = map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price, "channel": b.Channel, "url": b.URL,
			"dateTime": b.DateTime, "extra": b.Extra}
	}
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return len(js)
}

func TestSizes(t *testing.T) {
	for _, cfg := range []Config{Defaults(), {AvgPersonByteSize: 1000, AvgAuctionByteSize: 2000, AvgBidByteSize: 300}} {
		c := cfg.withDefaults()
		g := newGen(t, cfg)
		var ev Event
		var count, ref, js [3]float64
		for range 200_000 {
			g.Next(&ev)
			count[ev.Kind]++
			ref[ev.Kind] += float64(refSize(&ev))
			js[ev.Kind] += float64(jsonSize(t, &ev))
		}
		for k, want := range []int64{c.AvgPersonByteSize, c.AvgAuctionByteSize, c.AvgBidByteSize} {
			got := ref[k] / count[k]
			t.Logf("%v: mean size %.1f bytes as the reference counts (want %d), %.1f as JSON", Kind(k), got, want, js[k]/count[k])
			if math.Abs(got/float64(want)-1) > 0.02 {
				t.Errorf("%v: mean size %.1f bytes, want about %d", Kind(k), got, want)
			}
			// JSON adds the keys, quotes and, for bids, the channel and
			// URL the reference leaves out of its count.
			if jsMean := js[k] / count[k]; jsMean < float64(want) || jsMean > float64(want)+200 {
				t.Errorf("%v: mean JSON size %.1f bytes, want %d to %d", Kind(k), jsMean, want, want+200)
			}
		}
	}
	// An event already over the average gets no padding.
	g := newGen(t, Config{AvgBidByteSize: 10})
	var ev Event
	for range 1000 {
		if g.Next(&ev); ev.Kind == KindBid && ev.Bid.Extra != "" {
			t.Fatalf("bid padded to %q over a 10-byte average", ev.Bid.Extra)
		}
	}
}

var (
	emailRE   = regexp.MustCompile(`^([a-z][a-z ]*[a-z]|[a-z])?@([a-z][a-z ]*[a-z]|[a-z])?\.com$`)
	cardRE    = regexp.MustCompile(`^[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}$`)
	lettersRE = regexp.MustCompile(`^[a-z]*$`)
	textRE    = regexp.MustCompile(`^([a-z][a-z ]*[a-z]|[a-z])?$`)
	urlRE     = regexp.MustCompile(`^https://www\.nexmark\.com/[a-z_]{0,4}/[a-z_]{0,4}/[a-z_]{0,4}/item\.htm\?query=1(&channel_id=[0-9]+)?$`)
	channelRE = regexp.MustCompile(`^channel-[0-9]{1,4}$`)
)

func TestFields(t *testing.T) {
	g := newGen(t, Config{Seed: 5})
	var ev Event
	var prices []int64
	channelURL := map[string]string{}
	var hotChannel, bids int
	for range 300_000 {
		g.Next(&ev)
		switch ev.Kind {
		case KindPerson:
			p := ev.Person
			first, last, ok := strings.Cut(p.Name, " ")
			if !ok || !slices.Contains(firstNames[:], first) || !slices.Contains(lastNames[:], last) {
				t.Fatalf("name %q", p.Name)
			}
			if !emailRE.MatchString(p.EmailAddress) {
				t.Fatalf("email %q", p.EmailAddress)
			}
			if !cardRE.MatchString(p.CreditCard) {
				t.Fatalf("credit card %q", p.CreditCard)
			}
			if !slices.Contains(usCities[:], p.City) || !slices.Contains(usStates[:], p.State) {
				t.Fatalf("city %q, state %q", p.City, p.State)
			}
			if !lettersRE.MatchString(p.Extra) {
				t.Fatalf("extra %q", p.Extra)
			}
		case KindAuction:
			a := ev.Auction
			if !textRE.MatchString(a.ItemName) || len(a.ItemName) > 19 || !textRE.MatchString(a.Description) || len(a.Description) > 99 {
				t.Fatalf("item %q, description %q", a.ItemName, a.Description)
			}
			if a.InitialBid < 100 || a.Reserve <= a.InitialBid {
				t.Fatalf("initial bid %d, reserve %d", a.InitialBid, a.Reserve)
			}
			if !lettersRE.MatchString(a.Extra) {
				t.Fatalf("extra %q", a.Extra)
			}
		case KindBid:
			b := ev.Bid
			bids++
			prices = append(prices, b.Price)
			if slices.Contains(hotChannels[:], b.Channel) {
				hotChannel++
			} else if !channelRE.MatchString(b.Channel) {
				t.Fatalf("channel %q", b.Channel)
			}
			if !urlRE.MatchString(b.URL) {
				t.Fatalf("url %q", b.URL)
			}
			if u, ok := channelURL[b.Channel]; ok && u != b.URL {
				t.Fatalf("channel %s has URLs %q and %q", b.Channel, u, b.URL)
			}
			channelURL[b.Channel] = b.URL
			if !lettersRE.MatchString(b.Extra) {
				t.Fatalf("extra %q", b.Extra)
			}
		}
	}
	// Prices are log-uniform from $1 to $1,000,000: the median is $1,000,
	// a sixth of them under $10.
	slices.Sort(prices)
	if p := prices[0]; p < 100 {
		t.Fatalf("lowest price %d cents", p)
	}
	if p := prices[len(prices)-1]; p > 100_000_000 {
		t.Fatalf("highest price %d cents", p)
	}
	if med := prices[len(prices)/2]; med < 90_000 || med > 110_000 {
		t.Errorf("median price %d cents, want about 100000", med)
	}
	if low := float64(len(prices)-len(prices[sortIndex(prices, 1000):])) / float64(len(prices)); math.Abs(low-1.0/6) > 0.01 {
		t.Errorf("%.3f of prices under $10, want about 1/6", low)
	}
	if share := float64(hotChannel) / float64(bids); math.Abs(share-0.5) > 0.01 {
		t.Errorf("%.3f of bids from hot channels, want 0.5", share)
	}
	if len(channelURL) < 5000 {
		t.Errorf("%d channels seen", len(channelURL))
	}
	// Another generator with the seed gives the channels the same URLs;
	// another seed, other URLs.
	for _, seed := range []uint64{5, 6} {
		h := newGen(t, Config{Seed: seed})
		same := 0
		for c := range 100 {
			name, url := h.channel(c)
			if want := channelURL[name]; want == "" || url == want {
				same++
			}
		}
		if seed == 5 && same != 100 || seed == 6 && same > 10 {
			t.Errorf("seed %d: %d of 100 channel URLs as seed 5's", seed, same)
		}
	}
}

func sortIndex(s []int64, v int64) int {
	i, _ := slices.BinarySearch(s, v)
	return i
}

// The strings of an event stay as they were after later events.
func TestStringsKept(t *testing.T) {
	g := newGen(t, Defaults())
	var ev Event
	var kept []Event
	for range 2000 {
		g.Next(&ev)
		kept = append(kept, ev)
	}
	snapshot := make([]string, len(kept))
	for i, e := range kept {
		snapshot[i] = strings.Clone(e.Person.EmailAddress + e.Person.Extra + e.Auction.Description + e.Auction.Extra + e.Bid.URL + e.Bid.Extra)
	}
	for range 10_000 {
		g.Next(&ev)
	}
	for i, e := range kept {
		if s := e.Person.EmailAddress + e.Person.Extra + e.Auction.Description + e.Auction.Extra + e.Bid.URL + e.Bid.Extra; s != snapshot[i] {
			t.Fatalf("event %d's strings changed after later events", i)
		}
	}
}

func TestAllocs(t *testing.T) {
	g := newGen(t, Defaults())
	var ev Event
	for range 1_000_000 { // every channel made
		g.Next(&ev)
	}
	if a := testing.AllocsPerRun(100_000, func() { g.Next(&ev) }); a > 1 {
		t.Fatalf("%.2f allocations an event, want at most 1", a)
	}
}

func TestValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if d, z := Defaults(), (Config{}).withDefaults(); d != z {
		t.Fatalf("zero config defaults to %+v, want %+v", z, d)
	}
	for _, c := range []struct {
		field string
		set   func(*Config)
	}{
		{"FirstEventRate", func(c *Config) { c.FirstEventRate = -1 }},
		{"FirstEventRate", func(c *Config) { c.FirstEventRate = 2_000_000_000 }},
		{"PersonProportion", func(c *Config) { c.PersonProportion = -1 }},
		{"AuctionProportion", func(c *Config) { c.AuctionProportion = -3 }},
		{"BidProportion", func(c *Config) { c.BidProportion = math.MaxInt64 }},
		{"HotAuctionRatio", func(c *Config) { c.HotAuctionRatio = -2 }},
		{"HotSellersRatio", func(c *Config) { c.HotSellersRatio = -4 }},
		{"HotBiddersRatio", func(c *Config) { c.HotBiddersRatio = -4 }},
		{"NumInFlightAuctions", func(c *Config) { c.NumInFlightAuctions = -100 }},
		{"NumActivePeople", func(c *Config) { c.NumActivePeople = -1 }},
		{"AvgPersonByteSize", func(c *Config) { c.AvgPersonByteSize = -200 }},
		{"AvgAuctionByteSize", func(c *Config) { c.AvgAuctionByteSize = 1 << 40 }},
		{"AvgBidByteSize", func(c *Config) { c.AvgBidByteSize = -100 }},
		{"BaseTime", func(c *Config) { c.BaseTime = time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		cfg := Defaults()
		c.set(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: Validate = %v, want an error naming it", c.field, err)
		}
		if g, err := NewGenerator(cfg); err == nil || g != nil {
			t.Errorf("%s: NewGenerator = %v, %v; want an error", c.field, g, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindPerson: "person", KindAuction: "auction", KindBid: "bid", 7: "Kind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestPow1e6(t *testing.T) {
	for i := range 1_000_001 {
		u := float64(i) / 1_000_001
		got, want := pow1e6(u), math.Pow(10, 6*u)
		if math.Abs(got-want) > 4e-15*want {
			t.Fatalf("pow1e6(%v) = %v, want %v", u, got, want)
		}
	}
}
