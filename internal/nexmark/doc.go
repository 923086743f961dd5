// Package nexmark generates the event stream of the Nexmark benchmark: an
// online auction site where people register, open auctions and bid. It is
// a port of the reference generator (the nexmark/nexmark repository's
// nexmark-flink generator, itself derived from Apache Beam's Nexmark
// sources/generator), so that Tide's results can be set beside the
// published ones.
//
// # The stream
//
// Events are numbered 0, 1, 2, ...; event n is a pure function of the
// configuration's seed and n, so generation can start (Generator.SeekEvent) or
// resume at any event, and two runs with one seed produce the same
// events. As in the reference:
//
//   - Of every 50 events (Config's proportions 1/3/46) the first is a
//     person, the next three auctions, the rest bids (Config.KindOf).
//   - People and auctions are numbered consecutively from 1000 in event
//     order: event 0 is person 1000, event 1 auction 1000.
//   - A bid is on the hot auction with probability 1-1/HotAuctionRatio
//     (1/2): the first of the latest batch of 100 auctions; otherwise on
//     one of the NumInFlightAuctions (100) latest auctions. A bid's bidder
//     is the hot bidder with probability 1-1/HotBiddersRatio (3/4), the
//     second person of the latest batch of 100; an auction's seller the
//     hot seller with probability 1-1/HotSellersRatio (3/4), the first of
//     that batch; otherwise one of the NumActivePeople (1,000) latest
//     people. Cold choices, as in the reference, may also fall up to ten
//     ids beyond the last generated person or auction (and the hot bidder
//     is one ahead when its batch has only its first person yet), so a
//     few bids and auctions name a person or auction that arrives a little
//     later: about one bid in 22.
//   - Event n is at BaseTime + n×10^6/FirstEventRate microseconds (rounded
//     down), at 10,000 events a second of event time by default.
//   - An auction expires after a uniform random length averaging the time
//     it takes to generate NumInFlightAuctions more auctions (1,666 events,
//     about 0.17 s at the default rate).
//   - Names come from fixed lists of first and last names, cities and
//     states (AZ, CA, ID, OR, WA, WY); email addresses and item names are
//     random lower-case words; credit cards four groups of four digits;
//     categories 10 to 14; prices log-uniform from $1 to $1,000,000 (in
//     cents); a bid's channel is one of four hot channels with their URLs
//     half the time, otherwise one of 10,000 "channel-N" with its own URL.
//   - Each event's extra field pads it to the average sizes 200 (person),
//     500 (auction) and 100 (bid) bytes, counted as the reference counts:
//     eight bytes a number but not the event time, the strings' lengths,
//     and not a bid's channel and URL.
//
// # Departures from the reference
//
//   - The random numbers. The reference draws an event's fields from
//     java.util.Random (Beam seeds one per event with the event id;
//     nexmark-flink shares one unseeded Random, so its streams are not
//     reproducible). Here they come from math/rand/v2's PCG, its state a
//     hash of (Config.Seed, event number), which makes every event a pure
//     function of the seed and its number (resumable, and the same on
//     every platform) and gives different seeds different streams. The
//     values therefore differ from Java's; the distributions are the
//     reference's. Several characters are taken from one 64-bit draw,
//     and prices use a table-driven 10^x equal to math.Pow's to a few
//     units in the last place.
//   - Microseconds. The reference's times are milliseconds (event n at
//     baseTime + ⌊n × interEventDelayUs⌋/1000 ms, so ten events share each
//     millisecond at 10,000/s); here they are microseconds, ⌊n × 10^6 /
//     rate⌋ computed exactly in integers, and auction lengths are drawn in
//     microseconds. The default BaseTime is fixed (2026-01-01T00:00:00Z)
//     where the reference takes the current time.
//   - Bidder ids. nexmark-flink's bid generator adds the first person id
//     (1000) twice, so its bidders are 2000 and up and mostly name no
//     person (nexmark/nexmark issue #30); this port adds it once, as Beam
//     does, so bidders are people.
//   - Channel URLs. The reference makes the hot channels' URLs and each
//     other channel's URL with unseeded randoms when first needed, so they
//     change from run to run; here each is a function of the seed and the
//     channel number. channel_id is the absolute value of the channel
//     number's 32-bit reversal taken in 64 bits (Java's abs leaves channel
//     1's negative).
//   - Padding letters. The reference's extra strings take letters from
//     signed 32-bit randoms, so about half are not a-z ('H' to '`',
//     including '\\'); here they are a-z only.
//   - Not ported: out-of-order groups, several generators on split
//     timelines (use disjoint ranges of event numbers with SeekEvent instead),
//     rate shapes, wallclock and watermark timestamps, and the extended
//     bid mode.
//
// # Performance
//
// Next allocates one string per event, holding all of that event's
// generated text; names, cities, states, channels and URLs come from
// tables made once (a channel's when first used). It never writes memory
// an earlier event handed out, so callers may keep an event's strings.
package nexmark
