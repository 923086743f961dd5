package nexmarksql

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/nexmark"
)

// Expected evaluates query by brute force in plain Go over the first
// events of the generator configured by cfg: the rows its file's last
// sink writes, each as a JSON object with sorted keys (Canonical). It is
// how the tests check the query files, and how `tide bench nexmark`
// knows when a run is complete.
func Expected(query string, cfg nexmark.Config, events int64) ([]string, error) {
	gen, err := nexmark.NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	var persons []nexmark.Person
	var auctions []nexmark.Auction
	var bids []nexmark.Bid
	var ev nexmark.Event
	for range events {
		gen.Next(&ev)
		switch ev.Kind {
		case nexmark.KindPerson:
			persons = append(persons, ev.Person)
		case nexmark.KindAuction:
			auctions = append(auctions, ev.Auction)
		case nexmark.KindBid:
			bids = append(bids, ev.Bid)
		}
	}
	var rows []map[string]any
	switch query {
	case "q0", "q1", "q2":
		rows = selectBids(query, bids)
	case "q3":
		rows = localItems(persons, auctions)
	case "q4":
		rows = closingPrices(auctions, bids)
	case "q5":
		rows = hotItems(bids)
	case "q7":
		rows = highestBids(bids)
	case "q8":
		rows = newUsers(persons, auctions)
	default:
		return nil, fmt.Errorf("nexmark: no brute-force evaluation of %s", query)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		if out[i], err = Canonical(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Canonical encodes a row as a JSON object with sorted keys.
func Canonical(row map[string]any) (string, error) {
	b, err := json.Marshal(row) // map keys are sorted
	return string(b), err
}

// timestamp renders a time as Tide's JSON format writes a timestamp.
func timestamp(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.999999")
}

// selectBids is q0 (every bid), q1 (prices in euros) and q2 (bids on
// auctions whose id is divisible by 123).
func selectBids(query string, bids []nexmark.Bid) []map[string]any {
	var rows []map[string]any
	for _, b := range bids {
		switch query {
		case "q0":
			rows = append(rows, map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price, "date_time": timestamp(b.DateTime), "extra": b.Extra})
		case "q1":
			euros := new(big.Rat).Mul(big.NewRat(908, 1000), new(big.Rat).SetInt64(b.Price))
			rows = append(rows, map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": json.Number(euros.FloatString(3)), "date_time": timestamp(b.DateTime), "extra": b.Extra})
		case "q2":
			if b.Auction%123 == 0 {
				rows = append(rows, map[string]any{"auction": b.Auction, "price": b.Price})
			}
		}
	}
	return rows
}

// localItems is q3: auctions of category 10 with their seller, if the
// seller lives in OR, ID or CA — every pair, whichever came first.
func localItems(persons []nexmark.Person, auctions []nexmark.Auction) []map[string]any {
	byID := map[int64][]nexmark.Person{}
	for _, p := range persons {
		byID[p.ID] = append(byID[p.ID], p)
	}
	var rows []map[string]any
	for _, a := range auctions {
		if a.Category != 10 {
			continue
		}
		for _, p := range byID[a.Seller] {
			if p.State == "OR" || p.State == "ID" || p.State == "CA" {
				rows = append(rows, map[string]any{"name": p.Name, "city": p.City, "state": p.State, "id": a.ID})
			}
		}
	}
	return rows
}

// closingPrices is q4: per category, the average over its auctions of
// each one's highest bid placed between its date_time and expires
// (auctions without such a bid left out) — the final row of each
// category of the updating result.
func closingPrices(auctions []nexmark.Auction, bids []nexmark.Bid) []map[string]any {
	byID := map[int64][]nexmark.Auction{}
	for _, a := range auctions {
		byID[a.ID] = append(byID[a.ID], a)
	}
	type key struct{ id, category int64 }
	final := map[key]int64{}
	for _, b := range bids {
		for _, a := range byID[b.Auction] {
			if b.DateTime >= a.DateTime && b.DateTime <= a.Expires {
				k := key{a.ID, a.Category}
				if p, ok := final[k]; !ok || b.Price > p {
					final[k] = b.Price
				}
			}
		}
	}
	type sum struct{ total, n int64 }
	sums := map[int64]sum{}
	for k, price := range final {
		s := sums[k.category]
		sums[k.category] = sum{s.total + price, s.n + 1}
	}
	var rows []map[string]any
	for category, s := range sums {
		rows = append(rows, map[string]any{"category": category, "avg_final": json.Number(postgresQuotient(s.total, s.n))})
	}
	return rows
}

// postgresQuotient is x / y (y > 0) as Postgres' numeric division writes
// it, its avg of integers too (select_div_scale): at least 16 significant
// digits — the scale is 16 less four per base-10000 digit the quotient
// has before the point, never below 0 — rounded half away from zero.
func postgresQuotient(x, y int64) string {
	weight := func(v int64) (w int, first int64) { // base-10000 digits after the first, and the first
		for v = max(v, -v); v >= 10000; v /= 10000 {
			w++
		}
		return w, v
	}
	w1, d1 := weight(x)
	w2, d2 := weight(y)
	qweight := w1 - w2
	if d1 < d2 {
		qweight--
	}
	scale := max(16-4*qweight, 0)
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	num := new(big.Int).Mul(big.NewInt(max(x, -x)), pow)
	den := big.NewInt(y)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Mul(r, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	digits := q.String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	out := digits
	if scale > 0 {
		out = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if x < 0 {
		out = "-" + out
	}
	return out
}

// window10s is the start of the 10-second tumbling window holding us.
func window10s(us int64) int64 {
	const size = 10_000_000
	start := us - us%size
	if us%size < 0 {
		start -= size
	}
	return start
}

// hotItems is q5: per 10-second window sliding every 2 seconds, the
// auctions with the most bids in it (ties all of them).
func hotItems(bids []nexmark.Bid) []map[string]any {
	const slide, size = 2_000_000, 10_000_000
	type window struct{ auction, start int64 }
	counts := map[window]int64{}
	for _, b := range bids {
		last := b.DateTime - ((b.DateTime%slide)+slide)%slide // the latest window holding it
		for start := last; start > b.DateTime-size; start -= slide {
			counts[window{b.Auction, start}]++
		}
	}
	most := map[int64]int64{}
	for w, n := range counts {
		most[w.start] = max(most[w.start], n)
	}
	var rows []map[string]any
	for w, n := range counts {
		if n == most[w.start] {
			rows = append(rows, map[string]any{"auction": w.auction, "num": n, "starttime": timestamp(w.start), "endtime": timestamp(w.start + size)})
		}
	}
	return rows
}

// highestBids is q7: per 10-second tumbling window, the bids whose price
// is the window's highest.
func highestBids(bids []nexmark.Bid) []map[string]any {
	highest := map[int64]int64{}
	for _, b := range bids {
		w := window10s(b.DateTime)
		if p, ok := highest[w]; !ok || b.Price > p {
			highest[w] = b.Price
		}
	}
	var rows []map[string]any
	for _, b := range bids {
		if b.Price == highest[window10s(b.DateTime)] {
			rows = append(rows, map[string]any{"auction": b.Auction, "price": b.Price, "bidder": b.Bidder, "date_time": timestamp(b.DateTime), "extra": b.Extra})
		}
	}
	return rows
}

// newUsers is q8: the people who registered and opened an auction in the
// same 10-second tumbling window, once per window.
func newUsers(persons []nexmark.Person, auctions []nexmark.Auction) []map[string]any {
	type seller struct{ id, window int64 }
	selling := map[seller]bool{}
	for _, a := range auctions {
		selling[seller{a.Seller, window10s(a.DateTime)}] = true
	}
	type person struct {
		id     int64
		name   string
		window int64
	}
	seen := map[person]bool{}
	var rows []map[string]any
	for _, p := range persons {
		k := person{p.ID, p.Name, window10s(p.DateTime)}
		if seen[k] || !selling[seller{p.ID, k.window}] {
			continue
		}
		seen[k] = true
		rows = append(rows, map[string]any{"id": p.ID, "name": p.Name, "starttime": timestamp(k.window)})
	}
	return rows
}
