package nexmark

import "testing"

func BenchmarkNext(b *testing.B) {
	g, err := NewGenerator(Defaults())
	if err != nil {
		b.Fatal(err)
	}
	var ev Event
	b.ReportAllocs()
	for b.Loop() {
		g.Next(&ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkNextKind generates only one kind's events, SeekEvent skipping the
// others, as a single-table source does.
func BenchmarkNextKind(b *testing.B) {
	for _, k := range []Kind{KindPerson, KindAuction, KindBid} {
		b.Run(k.String(), func(b *testing.B) {
			cfg := Defaults()
			g, err := NewGenerator(cfg)
			if err != nil {
				b.Fatal(err)
			}
			var ev Event
			n := int64(0)
			b.ReportAllocs()
			for b.Loop() {
				for cfg.KindOf(n) != k {
					n++
				}
				g.SeekEvent(n)
				g.Next(&ev)
				n++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
