package nexmark

import "strconv"

// Kind is which of the three tables an event belongs to.
type Kind uint8

// The kinds, in the order a period of the stream makes them.
const (
	KindPerson Kind = iota
	KindAuction
	KindBid
)

// String returns "person", "auction" or "bid".
func (k Kind) String() string {
	switch k {
	case KindPerson:
		return "person"
	case KindAuction:
		return "auction"
	case KindBid:
		return "bid"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Times are microseconds since the Unix epoch (UTC).

// Person is a person registering on the auction site.
type Person struct {
	ID                                          int64
	Name, EmailAddress, CreditCard, City, State string
	DateTime                                    int64
	Extra                                       string
}

// Auction is an item put up for auction by a seller (a Person.ID).
type Auction struct {
	ID                    int64
	ItemName, Description string
	InitialBid, Reserve   int64 // cents
	DateTime, Expires     int64
	Seller, Category      int64
	Extra                 string
}

// Bid is a bid by a bidder (a Person.ID) on an auction (an Auction.ID).
type Bid struct {
	Auction, Bidder, Price int64 // price in cents
	Channel, URL           string
	DateTime               int64
	Extra                  string
}

// Event is one generated event: Kind says which of the three is set; the
// other two are zero.
type Event struct {
	Kind    Kind
	Person  Person
	Auction Auction
	Bid     Bid
}
