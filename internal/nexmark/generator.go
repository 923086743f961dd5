package nexmark

import (
	"math/bits"
	"math/rand/v2"
	"strconv"
)

// Reference constants, not configurable there either.
const (
	// personIDLead and auctionIDLead: a non-hot bidder, seller or auction
	// is chosen among the active ones plus this many not yet generated,
	// so a reference may arrive shortly before what it refers to.
	personIDLead  = 10
	auctionIDLead = 10
	// Hot sellers, bidders and auctions are the first (sellers, auctions)
	// or second (bidders) of each batch of this many ids.
	hotBatch = 100

	hotChannelsRatio = 2 // a bid comes from a hot channel with probability 1/2
	numChannels      = 10_000
)

var (
	usStates   = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}

	hotChannels = [...]string{"Google", "Facebook", "Baidu", "Apple"}

	// fullNames[i*len(lastNames)+j] is firstNames[i] + " " + lastNames[j],
	// made once so a person's name costs no allocation.
	fullNames = func() []string {
		var s []string
		for _, f := range firstNames {
			for _, l := range lastNames {
				s = append(s, f+" "+l)
			}
		}
		return s
	}()
)

// Generator makes events 0, 1, 2, ... (a Generator is used by one
// goroutine).
type Generator struct {
	cfg        Config // defaulted
	total      int64
	baseMicros int64
	// auctionSpan is how many events it takes to generate
	// NumInFlightAuctions auctions: an auction lasts on average as long as
	// those events span.
	auctionSpan int64
	n           int64

	eventKey, channelKey uint64
	pcg                  rand.PCG
	buf                  []byte

	hotURLs [len(hotChannels)]string
	// channelNames and channelURLs are the other channels', made when
	// first used (each is a function of the seed and channel number).
	channelNames []string
	channelURLs  []string
}

// NewGenerator returns a generator of cfg's events, starting at event 0.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Generator{
		cfg:          cfg,
		total:        cfg.total(),
		baseMicros:   cfg.BaseTime.UnixMicro(),
		auctionSpan:  cfg.NumInFlightAuctions * cfg.total() / cfg.AuctionProportion,
		eventKey:     streamKey(cfg.Seed, domainEvent),
		channelKey:   streamKey(cfg.Seed, domainChannel),
		buf:          make([]byte, 0, 1024),
		channelNames: make([]string, numChannels),
		channelURLs:  make([]string, numChannels),
	}
	hotKey := streamKey(cfg.Seed, domainHotURL)
	for i := range g.hotURLs {
		g.reseed(hotKey, int64(i))
		g.hotURLs[i] = string(g.appendBaseURL(g.buf[:0]))
	}
	return g, nil
}

// Number is the number of the event Next gives next.
func (g *Generator) Number() int64 { return g.n }

// SeekEvent makes event n the next one. It panics if n is negative.
func (g *Generator) SeekEvent(n int64) {
	if n < 0 {
		panic("nexmark: SeekEvent to a negative event number " + strconv.FormatInt(n, 10))
	}
	g.n = n
}

// Config returns the generator's configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Next fills ev with event number g.Number() and advances. The strings it
// sets are new (one allocation per event, none for strings drawn from
// fixed lists), never memory an earlier event handed out, so a caller may
// keep them.
func (g *Generator) Next(ev *Event) {
	n := g.n
	g.n++
	g.reseed(g.eventKey, n)
	ts := g.timeOf(n)
	switch kindOf(n, g.cfg.PersonProportion, g.cfg.AuctionProportion, g.total) {
	case KindPerson:
		ev.Kind = KindPerson
		g.person(&ev.Person, n, ts)
		ev.Auction = Auction{}
		ev.Bid = Bid{}
	case KindAuction:
		ev.Kind = KindAuction
		g.auction(&ev.Auction, n, ts)
		ev.Person = Person{}
		ev.Bid = Bid{}
	default:
		ev.Kind = KindBid
		g.bid(&ev.Bid, n, ts)
		ev.Person = Person{}
		ev.Auction = Auction{}
	}
}

// timeOf is event n's time in microseconds since the epoch.
func (g *Generator) timeOf(n int64) int64 {
	return g.baseMicros + offsetMicros(n, g.cfg.FirstEventRate)
}

// nextPersonBase0 chooses a person among the NumActivePeople latest at
// event n, or up to personIDLead not yet generated.
func (g *Generator) nextPersonBase0(n int64) int64 {
	people := g.cfg.lastPersonBase0(n) + 1
	active := min(people, g.cfg.NumActivePeople)
	return people - active + g.intn(active+personIDLead)
}

// nextAuctionBase0 chooses an auction among the NumInFlightAuctions+1
// latest at event n, or up to auctionIDLead not yet generated.
func (g *Generator) nextAuctionBase0(n int64) int64 {
	last := g.cfg.lastAuctionBase0(n)
	first := max(last-g.cfg.NumInFlightAuctions, 0)
	return first + g.intn(last-first+1+auctionIDLead)
}

func (g *Generator) person(p *Person, n, ts int64) {
	p.ID = g.cfg.lastPersonBase0(n) + FirstPersonID
	p.Name = fullNames[g.intn(int64(len(firstNames)))*int64(len(lastNames))+g.intn(int64(len(lastNames)))]

	b := g.buf[:0]
	b = g.appendString(b, 7, ' ')
	b = append(b, '@')
	b = g.appendString(b, 5, ' ')
	b = append(b, ".com"...)
	emailEnd := len(b)
	for i := range 4 {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendDigits4(b, g.intn(10_000))
	}
	cardEnd := len(b)
	p.City = usCities[g.intn(int64(len(usCities)))]
	p.State = usStates[g.intn(int64(len(usStates)))]
	size := 8 + len(p.Name) + cardEnd + len(p.City) + len(p.State)
	b = g.appendExtra(b, int64(size), g.cfg.AvgPersonByteSize)
	g.buf = b

	s := string(b)
	p.EmailAddress = s[:emailEnd]
	p.CreditCard = s[emailEnd:cardEnd]
	p.DateTime = ts
	p.Extra = s[cardEnd:]
}

func (g *Generator) auction(a *Auction, n, ts int64) {
	a.ID = g.cfg.lastAuctionBase0(n) + FirstAuctionID
	if g.intn(g.cfg.HotSellersRatio) > 0 {
		a.Seller = g.cfg.lastPersonBase0(n) / hotBatch * hotBatch
	} else {
		a.Seller = g.nextPersonBase0(n)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + g.intn(NumCategories)
	a.InitialBid = g.price()
	// The auction lasts on average as long as it takes to generate the
	// next NumInFlightAuctions auctions.
	horizon := g.timeOf(n+g.auctionSpan) - ts
	a.Expires = ts + 1 + g.intn(max(2*horizon, 1))

	b := g.buf[:0]
	b = g.appendString(b, 20, ' ')
	nameEnd := len(b)
	b = g.appendString(b, 100, ' ')
	descEnd := len(b)
	a.Reserve = a.InitialBid + g.price()
	size := 8 + descEnd + 5*8
	b = g.appendExtra(b, int64(size), g.cfg.AvgAuctionByteSize)
	g.buf = b

	s := string(b)
	a.ItemName = s[:nameEnd]
	a.Description = s[nameEnd:descEnd]
	a.DateTime = ts
	a.Extra = s[descEnd:]
}

func (g *Generator) bid(d *Bid, n, ts int64) {
	if g.intn(g.cfg.HotAuctionRatio) > 0 {
		d.Auction = g.cfg.lastAuctionBase0(n) / hotBatch * hotBatch
	} else {
		d.Auction = g.nextAuctionBase0(n)
	}
	d.Auction += FirstAuctionID
	if g.intn(g.cfg.HotBiddersRatio) > 0 {
		// The second of the batch, so hot bidders are not hot sellers.
		d.Bidder = g.cfg.lastPersonBase0(n)/hotBatch*hotBatch + 1
	} else {
		d.Bidder = g.nextPersonBase0(n)
	}
	d.Bidder += FirstPersonID
	d.Price = g.price()
	if g.intn(hotChannelsRatio) > 0 {
		i := g.intn(int64(len(hotChannels)))
		d.Channel, d.URL = hotChannels[i], g.hotURLs[i]
	} else {
		d.Channel, d.URL = g.channel(int(g.intn(numChannels)))
	}
	d.DateTime = ts
	b := g.appendExtra(g.buf[:0], 4*8, g.cfg.AvgBidByteSize)
	g.buf = b
	d.Extra = string(b)
}

// channel returns channel c's name and URL, making them on first use
// from their own stream, so they depend on the seed and c only.
func (g *Generator) channel(c int) (name, url string) {
	if g.channelNames[c] == "" {
		saved := g.pcg
		g.reseed(g.channelKey, int64(c))
		b := g.appendBaseURL(nil)
		if g.intn(10) > 0 {
			b = append(b, "&channel_id="...)
			// The reference's abs(Integer.reverse(c)), taken in 64 bits
			// so that channel 1 (reversed: -2^31) is not negative.
			r := int64(int32(bits.Reverse32(uint32(c))))
			b = strconv.AppendInt(b, max(r, -r), 10)
		}
		g.channelURLs[c] = string(b)
		g.channelNames[c] = "channel-" + strconv.Itoa(c)
		g.pcg = saved
	}
	return g.channelNames[c], g.channelURLs[c]
}

// appendBaseURL appends a random item URL, as the reference's getBaseUrl.
func (g *Generator) appendBaseURL(b []byte) []byte {
	b = append(b, "https://www.nexmark.com/"...)
	for range 3 {
		b = g.appendString(b, 5, '_')
		b = append(b, '/')
	}
	return append(b, "item.htm?query=1"...)
}
