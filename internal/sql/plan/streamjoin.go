package plan

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
)

// StreamJoin is a join of two streams (the pipeline's Source on the left,
// Right on the right): both are shuffled by the equality keys of ON to
// the tasks of a join stage, which keep each side's rows in state and
// pair each arriving row with the other side's rows of the same key that
// satisfy ON. A bound on the sides' event times in ON (an interval join:
// r.ts BETWEEN l.ts AND l.ts + INTERVAL '1' HOUR, or comparisons) tells
// how long a row can still find a partner: once the watermark passes
// that, it leaves the state. Without one a side's rows stay for ever (a
// regular join; the sink option 'state.ttl' bounds them).
//
// Rows read by Condition, the pipeline's Filter, Outputs and Key are the
// joined row: the left source's row (declared and metadata columns), then
// the right's from Offset. The output is append-only: an inner join emits
// each matching pair once, when its second row arrives; a LEFT join also
// emits a left row that found no partner, with NULL right columns, once
// the watermark passes its bound.
type StreamJoin struct {
	Right *Source
	// RightFeeds, when set, are the queries of a subquery on the right
	// side (a UNION ALL, or one query), as Pipeline.Feeds are the left
	// side's: Right is then a source of their columns that no connector
	// reads.
	RightFeeds            []*Pipeline
	LeftAlias, RightAlias string
	// Outer marks the sides whose rows are kept without a partner, with
	// NULLs for the other side's columns: the left for LEFT JOIN, the
	// right for RIGHT JOIN, both for FULL JOIN.
	Outer [2]bool
	// LeftKeys and RightKeys are the equalities of ON, each side's
	// expression over its own row, pairwise of the same type.
	LeftKeys, RightKeys []*expr.Expr
	KeyText             []string
	// LeftTime and RightTime are the event-time columns, in each side's
	// row: the WATERMARK column, or _timestamp without one.
	LeftTime, RightTime int
	// Lower and Upper bound right time - left time in µs, as ON states
	// them; HasLower and HasUpper say whether it does.
	Lower, Upper       int64
	HasLower, HasUpper bool
	// LeftFilter and RightFilter are the conjuncts of ON and WHERE over
	// one side that can be applied before the shuffle (over that side's
	// row); nil: none.
	LeftFilter, RightFilter         *expr.Expr
	LeftFilterText, RightFilterText string
	// LeftRow and RightRow are each side's row: the source's declared and
	// metadata columns, then window_start and window_end for a side
	// that is a window table function.
	LeftRow, RightRow []Column
	// LeftWindow and RightWindow are the sides' TUMBLE or HOP windows,
	// nil for a plain stream: the shuffle computes window_start and
	// window_end (a HOP side's row goes once per window).
	LeftWindow, RightWindow         *eventtime.Spec
	LeftWindowText, RightWindowText string // as written, for EXPLAIN
	// Condition is ON over the joined row: a pair matches when it is true.
	Condition     *expr.Expr
	ConditionText string
	Offset        int // where the right side's row starts in the joined row

	// Updating marks the outer sides without a time bound (a regular
	// outer join, Flink's): their rows may find partners at any time, so
	// one without a partner yet is emitted at once with NULLs for the
	// other side, and taken back when its first partner comes. The
	// join's result is then an updating one. A bounded outer side emits
	// its lonely rows once, final, when the watermark passes them.
	Updating [2]bool
	// Grouped marks a join whose aggregation groups by the join key of a
	// side the join never fills with NULLs: each group's rows meet in
	// one join task, which aggregates them itself rather than sending
	// them to a stage of their own.
	Grouped bool
	// Tables are the tables joined to the join's rows (FROM a JOIN b ON …
	// [LEFT] JOIN t ON k = t.pk …), in order: each pair, and each row an
	// outer side emits with NULLs, is looked up as the join's task makes
	// it, before WHERE's residue, the projection or an aggregation; their
	// columns follow the right side's in the joined row. Nil without
	// one. Never on an updating join (its rows taken back would be looked
	// up again).
	Tables *Join
	// WindowLag, for the windows of the join's rows (TUMBLE over a query
	// of the join), is how far behind the join's watermark a pair's time
	// may be: the join's tasks pass their watermark on that much behind,
	// so that no pair comes after its window has closed.
	WindowLag int64
	// Before, when set, is the join of two streams whose pairs are this
	// join's left side (FROM a JOIN b ON … JOIN c ON …): LeftRow is its
	// joined row, LeftTime the event time of one of its sides — the one
	// ON (or an inner join's WHERE) bounds against the right side's, or
	// else its left's — and LeftLag how far behind Before's watermark that
	// time may be in its pairs (as long as that side's rows are kept).
	// The engine runs each join as a stage of its own, the one before
	// sending its pairs to the next with its watermark held back by
	// LeftLag.
	Before  *StreamJoin
	LeftLag int64

	leftOnly, rightOnly []ast.Expr // one-sided conjuncts, until finishStreamJoin
	boundHint           string     // how to bound the join, for errors
	residue             []ast.Expr // WHERE's conjuncts evaluated on the joined rows
	windowed            [2]bool    // per side: a window join bounds its rows (windowBounds)
	pos                 ast.Pos    // the join's, for errors found after it is resolved
	whereBounds         []ast.Expr // WHERE's conjuncts over both sides of an inner join (pushWhere)
}

// Row is the join's row before any table joined to it: the left side's
// row, then the right's.
func (j *StreamJoin) Row() []Column { return append(slices.Clip(j.LeftRow), j.RightRow...) }

// Chain returns the joins of two streams that make j's rows, the first
// (whose left side is the pipeline's Source) first, j last.
func (j *StreamJoin) Chain() []*StreamJoin {
	var out []*StreamJoin
	for x := j; x != nil; x = x.Before {
		out = append(out, x)
	}
	slices.Reverse(out)
	return out
}

// pairTime is an event-time column of a join's pairs, and how far behind
// the join's watermark it may be in them (Forever: without bound).
type pairTime struct {
	col int
	lag int64
}

// pairTimes are the event-time columns of j's pairs that are never NULL
// (a side the join pads with NULLs has none), with their lag: a pair is
// made when its second row arrives, and its first waited in the join at
// most its side's Keep. That holds only when both sides are bounded: a
// join that keeps one side for ever joins the other's rows however late
// they come.
func (j *StreamJoin) pairTimes() []pairTime {
	keep := [2]int64{}
	keep[0], keep[1] = j.Keep()
	if keep[0] == Forever || keep[1] == Forever {
		keep = [2]int64{Forever, Forever}
	}
	var out []pairTime
	if !j.Outer[1] {
		out = append(out, pairTime{j.LeftTime, max(keep[0], 0)})
	}
	if !j.Outer[0] {
		out = append(out, pairTime{j.Offset + j.RightTime, max(keep[1], 0)})
	}
	return out
}

// checkBefore refuses a join of two streams whose pairs cannot be
// another join's left side yet.
func checkBefore(before *StreamJoin, pos ast.Pos) error {
	const hint = "join two streams in one sink, write its rows to a topic, and join that topic with the third stream in another"
	switch {
	case before.Updates():
		return unsupported(pos, fmt.Sprintf("a stream joined to the rows of a %s JOIN without a time bound is not supported: the rows it takes back would have to be taken back from this join too", before.Kind()),
			before.boundHint+" to emit its lonely rows once, final")
	case before.Tables != nil:
		return unsupported(pos, "a stream joined after a table is not supported yet", "join the tables after the last stream: FROM a JOIN b ON … JOIN c ON … JOIN table ON …")
	case before.LeftWindow != nil || before.RightWindow != nil:
		return unsupported(pos, "a stream joined to the rows of a window join is not supported yet", hint)
	case len(before.RightFeeds) > 0:
		return unsupported(pos, "a stream joined to the rows of a join with a subquery on its right side is not supported yet", hint)
	}
	return nil
}

// refuseChained refuses what the rows of a join of more than two
// streams cannot feed yet (a window table function over them); nil for
// any other join.
func refuseChained(j *StreamJoin, pos ast.Pos, what string) error {
	if j == nil || j.Before == nil {
		return nil
	}
	return unsupported(pos, what+" over a join of more than two streams is not supported yet",
		"write the join's rows to a topic with one sink, and read that topic in another")
}

// aliases are the names of the streams whose rows make j's.
func (j *StreamJoin) aliases() []string {
	out := []string{j.Chain()[0].LeftAlias}
	for _, x := range j.Chain() {
		out = append(out, x.RightAlias)
	}
	return out
}

// chooseLeftTime picks, for a join whose left side is another's pairs
// (Before), the left event-time column that the conjuncts conds bound
// against the right side's, when the one it has is not bounded: an
// interval join of a third stream may bound it by either of the first
// two's times.
func (j *StreamJoin) chooseLeftTime(conds []ast.Expr, cols []expr.Column, opts Options) {
	if j.Before == nil || j.HasLower || j.HasUpper {
		return
	}
	for _, t := range j.Before.pairTimes() {
		try := *j
		try.LeftTime = t.col
		for _, c := range conds {
			if try.LeftRow[try.LeftTime].Type == try.RightRow[try.RightTime].Type {
				try.addBound(c, cols, opts)
			}
		}
		if try.HasLower || try.HasUpper {
			j.LeftTime, j.Lower, j.Upper, j.HasLower, j.HasUpper = t.col, try.Lower, try.Upper, try.HasLower, try.HasUpper
			return
		}
	}
}

// finishChained works out how far behind the join before's watermark
// this join's left rows may come (LeftLag), and refuses a time bound
// that cannot hold: pairs of a join that keeps a side for ever may come
// at any time, and this join would have dropped their partners.
func (j *StreamJoin) finishChained() error {
	if j.Before == nil {
		return nil
	}
	lag := int64(Forever)
	for _, t := range j.Before.pairTimes() {
		if t.col == j.LeftTime {
			lag = t.lag
		}
	}
	left, right := j.Keep()
	if lag == Forever && (left != Forever || right != Forever) {
		return unsupported(j.pos, fmt.Sprintf("a time bound on the rows of a %s JOIN that is not bounded on both sides (or by a side it pads with NULLs) is not supported: its pairs may come at any time after their partners here are gone", j.Before.Kind()),
			j.Before.boundHint+", with a lower and an upper end; or drop this join's time bound")
	}
	if lag != Forever {
		j.LeftLag = lag
	}
	updated := j.Updating
	j.Updating = [2]bool{j.Outer[0] && left == Forever, j.Outer[1] && right == Forever}
	if updated != j.Updating {
		return fmt.Errorf("internal: the join's bounds changed after it was resolved")
	}
	return nil
}

// Forever is a retention without end.
const Forever = math.MaxInt64

// Keep returns how long after its own event time each side's row may
// still find a partner, in µs (left, right); Forever without a bound.
func (j *StreamJoin) Keep() (left, right int64) {
	left, right = Forever, Forever
	if j.HasUpper {
		left = j.Upper
	}
	if j.HasLower && j.Lower != math.MinInt64 {
		right = -j.Lower
	}
	// A window join's rows meet only rows of their own window, which
	// ends at most a window's size after them.
	if j.windowed[0] {
		left = min(left, j.LeftWindow.Size)
	}
	if j.windowed[1] {
		right = min(right, j.RightWindow.Size)
	}
	return left, right
}

// windowBounds notes which sides are windows joined only with the same
// window of the other side: ON equates the sides' window_start (or
// window_end) and both windows are the same TUMBLE or HOP.
func (j *StreamJoin) windowBounds() {
	l, r := j.LeftWindow, j.RightWindow
	if l == nil || r == nil || *l != *r {
		return
	}
	for i := range j.LeftKeys {
		lc, lok := j.LeftKeys[i].Column()
		rc, rok := j.RightKeys[i].Column()
		if !lok || !rok || lc < len(j.LeftRow)-2 || rc < len(j.RightRow)-2 || lc-len(j.LeftRow) != rc-len(j.RightRow) {
			continue
		}
		j.windowed = [2]bool{true, true}
	}
}

// isWindowEnd reports whether column col of the joined row is a side's
// window_end in an inner window join: the time at which the join's
// watermark has passed every pair of that window.
func (j *StreamJoin) isWindowEnd(col int) bool {
	if !j.windowed[0] || j.Outer[0] || j.Outer[1] {
		return false
	}
	return col == len(j.LeftRow)-1 || col == j.Offset+len(j.RightRow)-1
}

// attachedWindows is the window of an inner window join's pairs, as an
// aggregation of them reads it: either side's window_start and
// window_end, which ON makes the same. Nil for other joins, and for an
// outer window join, whose NULL-padded rows come when their own row
// expires, after the watermark has passed their window's end.
func (j *StreamJoin) attachedWindows(cols []expr.Column) *window {
	if !j.windowed[0] || j.Outer[0] || j.Outer[1] {
		return nil
	}
	start := len(j.LeftRow) - 2 // the left side's window_start (sideRow)
	return &window{over: j.LeftWindow, spec: eventtime.Spec{Kind: eventtime.Attached, Size: j.LeftWindow.Size},
		text: "the windows of the join (" + j.LeftWindowText + ")", time: start, timeType: cols[start].Type,
		aliases: []string{j.LeftAlias, j.RightAlias}}
}

// joinSide is the right side of a join of two streams, resolved.
type joinSide struct {
	src    *Source
	alias  string
	window *window // a window table function's; nil for a plain stream
	pos    ast.Pos
}

// sideRow is a side's row: the source's, then the window's bounds.
func sideRow(src *Source, w *window) []Column {
	row := src.RowColumns()
	if w != nil {
		row = append(row, Column{Name: ColWindowStart, Type: w.timeType}, Column{Name: ColWindowEnd, Type: w.timeType})
	}
	return row
}

// resolveStreamJoin resolves FROM left JOIN right ON ... where right is a
// stream (a source without a primary key); in is the left side, resolved.
func resolveStreamJoin(f *ast.Join, in *input, right *joinSide, opts Options) (*input, error) {
	hint := "FROM a JOIN b ON a.key = b.key [AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' MINUTE]"
	if f.Kind != "INNER" && f.Kind != "LEFT" && f.Kind != "RIGHT" && f.Kind != "FULL" {
		return nil, unsupported(f.Pos, f.Kind+" JOIN between two streams is not supported yet", "use INNER, LEFT, RIGHT or FULL JOIN: "+hint)
	}
	before := in.sjoin // a join of two streams whose pairs are the left side
	if before != nil {
		if err := checkBefore(before, right.pos); err != nil {
			return nil, err
		}
	}
	j := &StreamJoin{Right: right.src, LeftAlias: in.alias, RightAlias: right.alias, Before: before, pos: f.Pos,
		Outer: [2]bool{f.Kind == "LEFT" || f.Kind == "FULL", f.Kind == "RIGHT" || f.Kind == "FULL"}}
	if before != nil {
		j.LeftAlias = "(" + strings.Join(before.aliases(), " JOIN ") + ")" // for EXPLAIN
	}
	if j.RightAlias == j.LeftAlias || before != nil && slices.Contains(before.aliases(), j.RightAlias) {
		return nil, errorf(right.pos, "table name %q specified more than once", j.RightAlias)
	}
	for _, w := range []*window{in.window, right.window} {
		if w != nil && w.spec.Kind == eventtime.Session {
			return nil, unsupported(w.fn.Pos, "a SESSION window as a side of a join is not supported yet",
				"join TUMBLE or HOP windows, or aggregate per session into a topic and join the results")
		}
	}
	j.LeftRow, j.RightRow = sideRow(in.src, in.window), sideRow(right.src, right.window)
	j.LeftTime, j.RightTime = eventTimeColumn(in.src), eventTimeColumn(right.src)
	leftCols := exprColumns(j.LeftAlias, j.LeftRow)
	if before != nil {
		j.LeftRow, leftCols = before.Row(), slices.Clip(in.cols)
		// Its left's time, unless that side may be NULL (then its
		// right's); chooseLeftTime may pick the other by ON's bound.
		j.LeftTime = before.LeftTime
		if ts := before.pairTimes(); len(ts) > 0 {
			j.LeftTime = ts[0].col
		}
	}
	if in.window != nil {
		j.LeftWindow, j.LeftWindowText = &in.window.spec, in.window.text
	}
	if right.window != nil {
		j.RightWindow, j.RightWindowText = &right.window.spec, right.window.text
	}
	in.window = nil // the window's columns are the side's, not a GROUP BY's
	j.Offset = len(j.LeftRow)
	rightCols := exprColumns(j.RightAlias, j.RightRow)
	in.cols = append(slices.Clip(leftCols), rightCols...)
	in.sjoin = j
	if f.On == nil {
		return nil, &Error{Pos: f.Pos, Msg: "a join between two streams needs ON with at least one equality between them", Hint: hint}
	}
	cond, err := expr.CompilePredicateWith(f.On, in.cols, opts.Compile)
	if err != nil {
		return nil, err
	}
	j.Condition, j.ConditionText = cond, ast.Format(f.On)
	var leftOnly, rightOnly, both []ast.Expr
	for _, c := range conjuncts(f.On) {
		e, err := expr.CompileWith(c, in.cols, opts.Compile)
		if err != nil {
			return nil, err
		}
		switch j.sides(e) {
		case sideLeft:
			leftOnly = append(leftOnly, c)
			continue
		case sideRight:
			rightOnly = append(rightOnly, c)
			continue
		}
		both = append(both, c)
		if b, ok := c.(*ast.Binary); ok && b.Op == "=" {
			if err := j.addKey(b, leftCols, rightCols, opts); err != nil {
				return nil, err
			}
		}
		// l.ts = r.ts is a key and a bound. Times of different kinds
		// (timestamp against timestamptz) compare through the session's
		// time zone: no bound is read from them.
		if j.LeftRow[j.LeftTime].Type == j.RightRow[j.RightTime].Type {
			j.addBound(c, in.cols, opts)
		}
	}
	j.chooseLeftTime(both, in.cols, opts)
	if len(j.LeftKeys) == 0 {
		return nil, &Error{Pos: f.On.Position(), Msg: "a join between two streams needs an equality between them in ON (a.col = b.col), which decides where each row's partners are",
			Hint: hint}
	}
	// Conditions of ON on one side are applied before the shuffle, unless
	// that side is outer: its rows that fail them are still emitted,
	// unmatched.
	if !j.Outer[1] {
		j.rightOnly = rightOnly
	}
	if !j.Outer[0] {
		j.leftOnly = leftOnly
	}
	j.windowBounds()
	keepLeft, keepRight := j.Keep()
	rt, lt := right.src.RowColumns()[j.RightTime].Name, in.cols[j.LeftTime]
	bound := fmt.Sprintf("bound it: ON ... AND %s.%s BETWEEN %s.%s AND %s.%s + INTERVAL '1' MINUTE", j.RightAlias, rt, lt.Table, lt.Name, lt.Table, lt.Name)
	j.Updating = [2]bool{j.Outer[0] && keepLeft == Forever, j.Outer[1] && keepRight == Forever}
	j.boundHint = bound
	return in, nil
}

// readsTables reports whether e, over the joined row, reads a column of
// a table joined to the join's rows.
func (j *StreamJoin) readsTables(e *expr.Expr) bool {
	from := j.Offset + len(j.RightRow)
	for i := range j.Tables.Width() {
		if e.References(from + i) {
			return true
		}
	}
	return false
}

// Updates reports whether the join's rows update (Updating): an outer
// side without a time bound emits rows it later takes back.
func (j *StreamJoin) Updates() bool { return j.Updating[0] || j.Updating[1] }

// checkUpdating refuses what an updating join cannot feed yet: a
// projection with no key its rows replace each other by, aggregates that
// cannot take a row back, and the clock where a row taken back is
// evaluated again (WHERE, KEY BY, GROUP BY, aggregate arguments).
func checkUpdating(p *Pipeline, q *ast.Select) error {
	j := p.StreamJoin
	if j == nil || !j.Updates() {
		return nil
	}
	pos := q.Pos
	// WHERE's conjuncts over one side run before the join, once.
	retaken := append(append(slices.Clip(j.residue), q.Key), q.GroupBy...)
	retaken = append(retaken, aggregateArgs(append(itemExprs(q.Items), q.Having))...)
	if f := clockCall(retaken); f != nil {
		return unsupported(f.Pos, fmt.Sprintf("%s after an outer join without a time bound is not supported: a NULL-padded row is evaluated again to be taken back, and the clock would have moved", ast.Format(f)),
			"compute the time before the join (in a source), or "+j.boundHint+" to emit lonely rows once, final")
	}
	side := "left"
	switch {
	case j.Updating[0] && j.Updating[1]:
		side = "left or right"
	case j.Updating[1]:
		side = "right"
	}
	if p.Aggregation == nil {
		if p.Key == nil {
			return &Error{Pos: pos, Msg: fmt.Sprintf("a %s JOIN without a time bound is an updating result: each %s row without a partner is emitted at once with NULLs, and replaced when its first partner comes; it needs KEY BY, the key its rows replace each other by",
				j.Kind(), side), Hint: "KEY BY an expression that tells the rows apart (e.g. the " + side + " side's id), or " + j.boundHint + " to emit lonely rows once, final"}
		}
		return nil
	}
	return nil
}

// groupedByJoinKey reports whether agg's group key holds every join key
// column of a side that is never NULL-extended (the left of an inner or
// LEFT join, the right of an inner or RIGHT join): then rows of one
// group have one join key, and meet in one join task.
func groupedByJoinKey(j *StreamJoin, agg *Aggregation) bool {
	grouped := map[int]bool{}
	for _, k := range agg.Keys {
		if c, ok := k.Expr.Column(); ok {
			grouped[c] = true
		}
	}
	covers := func(keys []*expr.Expr, offset int) bool {
		for _, k := range keys {
			c, ok := k.Column()
			if !ok || !grouped[offset+c] {
				return false
			}
		}
		return len(keys) > 0
	}
	return !j.Outer[1] && covers(j.LeftKeys, 0) || !j.Outer[0] && covers(j.RightKeys, j.Offset)
}

// Kind names the join as SQL does: INNER, LEFT, RIGHT or FULL.
func (j *StreamJoin) Kind() string {
	switch j.Outer {
	case [2]bool{true, false}:
		return "LEFT"
	case [2]bool{false, true}:
		return "RIGHT"
	case [2]bool{true, true}:
		return "FULL"
	}
	return "INNER"
}

// eventTimeColumn is a source's event-time column in its row: the
// WATERMARK column, or the record timestamp.
func eventTimeColumn(s *Source) int {
	if s.Watermark != nil {
		return s.Watermark.Column
	}
	return len(s.Columns) + slices.IndexFunc(metadataColumns, func(c Column) bool { return c.Name == ColTimestamp })
}

type joinSides int

const (
	sideNone joinSides = iota // a constant
	sideLeft
	sideRight
	sideBoth
)

// sides says which sides of the joined row e reads.
func (j *StreamJoin) sides(e *expr.Expr) joinSides {
	var left, right bool
	for i := range j.Offset + len(j.RightRow) {
		if e.References(i) {
			left, right = left || i < j.Offset, right || i >= j.Offset
		}
	}
	switch {
	case left && right:
		return sideBoth
	case left:
		return sideLeft
	case right:
		return sideRight
	}
	return sideNone
}

// addKey takes l = r with l over one side and r over the other as an
// equality key, if it is one.
func (j *StreamJoin) addKey(b *ast.Binary, leftCols, rightCols []expr.Column, opts Options) error {
	// Each operand must compile over one side's row alone (a failure
	// says it reads the other side, or both).
	overSides := func(lx, rx ast.Expr) (l, r *expr.Expr, ok bool) {
		l, lerr := expr.CompileWith(lx, leftCols, opts.Compile)
		r, rerr := expr.CompileWith(rx, rightCols, opts.Compile)
		return l, r, lerr == nil && rerr == nil
	}
	lx, rx := b.L, b.R
	l, r, ok := overSides(lx, rx)
	if !ok {
		lx, rx = b.R, b.L
		if l, r, ok = overSides(lx, rx); !ok {
			return nil // not a key: the condition is evaluated on each pair
		}
	}
	// Both sides' keys are encoded in one type, so that equal values
	// meet: the narrower is cast to the wider, as Postgres' = compares.
	switch lt, rt := l.Type(), r.Type(); {
	case lt == rt:
	case wider(lt, rt):
		var err error
		if r, err = expr.CompileWith(&ast.Cast{Pos: rx.Position(), X: rx, Type: ast.TypeName{Pos: rx.Position(), Name: lt.String()}}, rightCols, opts.Compile); err != nil {
			return err
		}
	case wider(rt, lt):
		var err error
		if l, err = expr.CompileWith(&ast.Cast{Pos: lx.Position(), X: lx, Type: ast.TypeName{Pos: lx.Position(), Name: rt.String()}}, leftCols, opts.Compile); err != nil {
			return err
		}
	default:
		return &Error{Pos: b.Pos, Msg: fmt.Sprintf("the join's equality compares %s with %s", lt, rt), Hint: "cast one side to the other's type"}
	}
	j.LeftKeys, j.RightKeys = append(j.LeftKeys, l), append(j.RightKeys, r)
	j.KeyText = append(j.KeyText, ast.Format(lx)+" = "+ast.Format(rx))
	return nil
}

// addBound narrows the time bounds by a conjunct comparing the sides'
// event times (BETWEEN, <, <=, >, >=, = with constant intervals added or
// subtracted); any other conjunct leaves them as they are.
func (j *StreamJoin) addBound(c ast.Expr, cols []expr.Column, opts Options) {
	type cmp struct {
		x, y ast.Expr
		op   string
	}
	var cmps []cmp
	switch x := c.(type) {
	case *ast.Between:
		if x.Not || x.Symmetric {
			return
		}
		cmps = []cmp{{x.X, x.Lo, ">="}, {x.X, x.Hi, "<="}}
	case *ast.Binary:
		switch x.Op {
		case "<", "<=", ">", ">=", "=":
			cmps = []cmp{{x.L, x.R, x.Op}}
		}
	}
	for _, c := range cmps {
		xs, xo, ok := j.timeTerm(c.x, cols, opts)
		if !ok {
			continue
		}
		ys, yo, ok := j.timeTerm(c.y, cols, opts)
		if !ok || xs == ys {
			continue
		}
		// right + a op left + b: right - left op b - a; written the
		// other way round, the operator turns.
		op, d := c.op, yo-xo
		if xs == sideLeft {
			op, d = flip(op), xo-yo
		}
		if op == ">" || op == ">=" || op == "=" {
			if !j.HasLower || d > j.Lower {
				j.Lower, j.HasLower = d, true
			}
		}
		if op == "<" || op == "<=" || op == "=" {
			if !j.HasUpper || d < j.Upper {
				j.Upper, j.HasUpper = d, true
			}
		}
	}
}

func flip(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// timeTerm matches a side's event-time column plus or minus constant
// intervals, returning the side and the constant in µs.
func (j *StreamJoin) timeTerm(e ast.Expr, cols []expr.Column, opts Options) (joinSides, int64, bool) {
	switch x := e.(type) {
	case *ast.ColumnRef:
		c, err := expr.CompileWith(x, cols, opts.Compile)
		if err != nil {
			return sideNone, 0, false
		}
		switch i, _ := c.Column(); i {
		case j.LeftTime:
			return sideLeft, 0, true
		case j.Offset + j.RightTime:
			return sideRight, 0, true
		}
	case *ast.Binary:
		if x.Op != "+" && x.Op != "-" {
			return sideNone, 0, false
		}
		if s, o, ok := j.timeTerm(x.L, cols, opts); ok {
			d, err := constInterval(x.R, "the bound", false, opts)
			if err != nil {
				return sideNone, 0, false
			}
			if x.Op == "-" {
				d = -d
			}
			return s, o + d, true
		}
		if s, o, ok := j.timeTerm(x.R, cols, opts); ok && x.Op == "+" {
			d, err := constInterval(x.L, "the bound", false, opts)
			if err != nil {
				return sideNone, 0, false
			}
			return s, o + d, true
		}
	}
	return sideNone, 0, false
}

// conjuncts splits e at its top-level ANDs.
func conjuncts(e ast.Expr) []ast.Expr {
	if b, ok := e.(*ast.Binary); ok && b.Op == "AND" {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	return []ast.Expr{e}
}

// andAll compiles the conjunction of cs over cols; nil for none.
func andAll(cs []ast.Expr, cols []expr.Column, opts Options) (*expr.Expr, string, error) {
	if len(cs) == 0 {
		return nil, "", nil
	}
	all := cs[0]
	for _, c := range cs[1:] {
		all = &ast.Binary{Pos: c.Position(), Op: "AND", L: all, R: c}
	}
	e, err := expr.CompilePredicateWith(all, cols, opts.Compile)
	if err != nil {
		return nil, "", err
	}
	return e, ast.Format(all), nil
}

// finishStreamJoin splits the WHERE of a query over a stream join: its
// conjuncts over the left side go before the shuffle, as do those over
// the right side of an inner join (a LEFT JOIN's WHERE sees the NULLs of
// unmatched rows, so its right-side conjuncts stay after the join); the
// rest become the pipeline's Filter over the joined row, an inner join's
// time bounds among them also bounding its state. It compiles the
// filters of both sides, with the one-sided conjuncts of ON.
func finishStreamJoin(p *Pipeline, where ast.Expr, in *input, opts Options) error {
	j := in.sjoin
	var rest []ast.Expr
	if where != nil {
		for _, c := range conjuncts(where) {
			e, err := expr.CompilePredicateWith(c, in.cols, opts.Compile)
			if err != nil {
				return err
			}
			// After the lookups if it reads a table; otherwise placed as
			// any join's (pushWhere): before the join over one side, and
			// after it too as a bound of an inner join.
			if j.readsTables(e) || !j.pushWhere(c, in.cols, opts) {
				rest = append(rest, c)
			}
		}
	}
	if err := finishJoin(j, in.cols, opts); err != nil {
		return err
	}
	var err error
	j.residue = rest
	p.Filter, p.FilterText, err = andAll(rest, in.cols, opts)
	return err
}

// pushWhere places a conjunct of WHERE over the rows of j (and of
// the joins before it): over one side, before j — unless the other side
// is outer, its unmatched rows carrying NULLs for this side, which WHERE
// must see — down to the earliest join that has its columns; over both
// sides of an inner j it also bounds j's state, as it would in ON (a row
// dropped could only have made pairs WHERE drops), and still filters
// the pairs. It reports whether j took it as a filter; false: the
// caller filters j's rows with it.
func (j *StreamJoin) pushWhere(c ast.Expr, cols []expr.Column, opts Options) bool {
	if j == nil {
		return false
	}
	e, err := expr.CompilePredicateWith(c, cols, opts.Compile)
	if err != nil {
		return false
	}
	switch s := j.sides(e); {
	case s == sideLeft && !j.Outer[1]:
		if !j.Before.pushWhere(c, cols, opts) {
			j.leftOnly = append(j.leftOnly, c)
		}
		return true
	case s == sideRight && !j.Outer[0]:
		j.rightOnly = append(j.rightOnly, c)
		return true
	case s == sideBoth && !j.Outer[0] && !j.Outer[1]:
		if j.LeftRow[j.LeftTime].Type == j.RightRow[j.RightTime].Type {
			j.addBound(c, cols, opts)
		}
		j.whereBounds = append(j.whereBounds, c) // its left time chosen by them too (finishJoin)
	}
	return false
}

// finishJoin finishes j and the joins before it, the first first (each
// one's bounds, final, decide how late its pairs may come to the next):
// the left time chosen by WHERE's bounds (pushWhere) when ON has none,
// the lag of its left side, and its one-sided conditions compiled.
func finishJoin(j *StreamJoin, cols []expr.Column, opts Options) error {
	if j == nil {
		return nil
	}
	if err := finishJoin(j.Before, cols, opts); err != nil {
		return err
	}
	j.chooseLeftTime(j.whereBounds, cols, opts)
	if err := j.finishChained(); err != nil {
		return err
	}
	var err error
	if j.LeftFilter, j.LeftFilterText, err = andAll(j.leftOnly, cols[:j.Offset], opts); err != nil {
		return err
	}
	if j.RightFilter, j.RightFilterText, err = andAll(j.rightOnly, cols[j.Offset:j.Offset+len(j.RightRow)], opts); err != nil {
		return err
	}
	return nil
}
