package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/billowhq/billow/usage"
)

// Cluster kinds of session_clusters.
const (
	clusterConversation = 0
	clusterAPI          = 1
)

// clusterRowsPerStatementMax keeps a statement over session_clusters within both
// engines' parameter limits (at most 9 parameters a row).
const clusterRowsPerStatementMax = 1000

// clusterKey names a session stream: a conversation, or a client's API activity on an app.
type clusterKey struct {
	kind   int64
	stream string
	app    string
}

func compareClusterKeys(a, b clusterKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.stream, b.stream), cmp.Compare(a.app, b.app))
}

// storedCluster is a row of session_clusters: a cluster of a stream, and the app serving
// the conversation when the cluster ends (the next cluster inherits it when it names
// none; "" for API activity).
type storedCluster struct {
	key clusterKey
	usage.Cluster
	endApp string
}

// clusterKeyOf returns the session stream an event of a sessions meter belongs to.
// Events of custom types do not form clusters: the shipped meters bill the vocabulary.
func clusterKeyOf(m *catalog.Meter, e *billow.UsageEvent) (clusterKey, bool) {
	if !slices.Contains(m.EventTypes, e.Type) || e.Stream == "" {
		return clusterKey{}, false
	}
	switch {
	case slices.Contains(billow.ConversationEventTypes, e.Type):
		return clusterKey{clusterConversation, e.Stream, ""}, true
	case e.Type == billow.EventAPIRequest:
		return clusterKey{clusterAPI, e.Stream, e.AppID}, true
	}
	return clusterKey{}, false
}

// streamEvents groups the events of a sessions meter by stream, in key order.
func streamEvents(m *catalog.Meter, raw []billow.UsageEvent, events []meter.Event) ([]clusterKey, map[clusterKey][]meter.Event) {
	byKey := map[clusterKey][]meter.Event{}
	for i := range raw {
		if k, ok := clusterKeyOf(m, &raw[i]); ok {
			byKey[k] = append(byKey[k], events[i])
		}
	}
	keys := make([]clusterKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareClusterKeys)
	return keys, byKey
}

// chainSessions returns the sessions of consecutive clusters of one stream as deltas of
// sign (+1, or -1 to take them back), each cluster inheriting the app its predecessor
// ended on (inherited for the first), and the app each cluster ends on.
func chainSessions(m *catalog.Meter, k clusterKey, clusters []usage.Cluster, inherited string, sign int64) ([]usage.Delta, []string, error) {
	var deltas []usage.Delta
	ends := make([]string, len(clusters))
	for i, c := range clusters {
		d, err := usage.ClusterSessions(m, c.Reps, inherited)
		if err != nil {
			return nil, nil, err
		}
		if sign < 0 {
			d = usage.Negate(d)
		}
		deltas = append(deltas, d...)
		if k.kind == clusterConversation {
			inherited = usage.ServingApp(m, c.Reps, inherited)
			ends[i] = inherited
		}
	}
	return deltas, ends, nil
}

// sessionDeltas are the changes in a sessions meter's rollups made by newly stored
// events (raw, and the same as meter events), with session_clusters brought up to date.
// The clusters of every stream the batch touches that lie within the idle timeout of its
// new events are read in one statement and merged with them in memory; the sessions of
// the old clusters and of the merged ones are computed from their representatives, and
// the difference is the delta. The statements a batch costs do not grow with the streams
// it touches, nor the work with how long a stream is.
func (db *DB) sessionDeltas(ctx context.Context, q txq, accountID string, m *catalog.Meter, raw []billow.UsageEvent, events []meter.Event) ([]usage.Delta, error) {
	idle := m.IdleTimeoutMinutes * meter.MicrosPerMinute
	keys, byKey := streamEvents(m, raw, events)
	if len(keys) == 0 {
		return nil, nil
	}
	windows := make([]clusterWindow, len(keys))
	for i, k := range keys {
		lo, hi := byKey[k][0].TimeMicros, byKey[k][0].TimeMicros
		for _, e := range byKey[k] {
			lo, hi = min(lo, e.TimeMicros), max(hi, e.TimeMicros)
		}
		windows[i] = clusterWindow{k, lo - idle, hi + idle}
	}
	near, prevEnd, following, err := db.clustersNear(ctx, q, accountID, m.Key, windows)
	if err != nil {
		return nil, err
	}
	var deltas []usage.Delta
	var gone, made []storedCluster
	for i, k := range keys {
		old := near[k]
		oldClusters := make([]usage.Cluster, len(old))
		for j := range old {
			oldClusters[j] = old[j].Cluster
		}
		merged := usage.MergeClusters(oldClusters, byKey[k], idle)
		inherited := prevEnd[k]
		taken, oldEnds, err := chainSessions(m, k, oldClusters, inherited, -1)
		if err != nil {
			return nil, err
		}
		added, newEnds, err := chainSessions(m, k, merged, inherited, 1)
		if err != nil {
			return nil, err
		}
		deltas = append(append(deltas, taken...), added...)
		gone = append(gone, old...)
		for j, c := range merged {
			made = append(made, storedCluster{key: k, Cluster: c, endApp: newEnds[j]})
		}
		// The clusters after the window inherit the app the window ends on when they name
		// none themselves (a conversation resumed with only an ended event, say). If the
		// batch changed that app, their sessions move: walk on while it differs.
		oldEnd, newEnd := inherited, inherited
		if len(oldEnds) > 0 {
			oldEnd = oldEnds[len(oldEnds)-1]
		}
		if len(newEnds) > 0 {
			newEnd = newEnds[len(newEnds)-1]
		}
		for after := windows[i].hi; k.kind == clusterConversation && oldEnd != newEnd; {
			var next *storedCluster
			if c, ok := following[k]; ok && after == windows[i].hi {
				next = &c // read with the window
			} else if after != windows[i].hi {
				if next, err = db.clusterAfter(ctx, q, accountID, m.Key, k, after); err != nil {
					return nil, err
				}
			}
			if next == nil {
				break
			}
			taken, ends, err := chainSessions(m, k, []usage.Cluster{next.Cluster}, oldEnd, -1)
			if err != nil {
				return nil, err
			}
			added, newEnds, err := chainSessions(m, k, []usage.Cluster{next.Cluster}, newEnd, 1)
			if err != nil {
				return nil, err
			}
			deltas = append(append(deltas, taken...), added...)
			oldEnd, newEnd, after = ends[0], newEnds[0], next.FirstMicros
			if err := q.exec(ctx, `UPDATE session_clusters SET end_app = `+db.params(1, 1)+` WHERE account_id = `+db.params(2, 1)+
				` AND meter = `+db.params(3, 1)+` AND kind = `+db.params(4, 1)+` AND stream = `+db.params(5, 1)+
				` AND app_id = `+db.params(6, 1)+` AND first_us = `+db.params(7, 1),
				newEnd, accountID, m.Key, k.kind, k.stream, k.app, next.FirstMicros); err != nil {
				return nil, err
			}
		}
	}
	removed, changed := clusterChanges(gone, made)
	if err := db.deleteClusters(ctx, q, accountID, m.Key, removed); err != nil {
		return nil, err
	}
	if err := db.upsertClusters(ctx, q, accountID, m.Key, changed); err != nil {
		return nil, err
	}
	return usage.Merge(deltas)
}

// clusterWindow is the stretch of a stream whose clusters a batch may join: its new
// events' times widened by the idle timeout.
type clusterWindow struct {
	key    clusterKey
	lo, hi int64
}

// clustersNear returns, for each window, the stream's clusters that reach into it (those
// starting in it, and the last one starting before it if it reaches in); when that last
// earlier one does not reach in, the app it ended on, which the window's first cluster
// inherits; and the first cluster after the window, which inherits from its last.
func (db *DB) clustersNear(ctx context.Context, q txq, accountID, meterKey string, windows []clusterWindow) (near map[clusterKey][]storedCluster, prevEnd map[clusterKey]string, next map[clusterKey]storedCluster, err error) {
	near, prevEnd, next = map[clusterKey][]storedCluster{}, map[clusterKey]string{}, map[clusterKey]storedCluster{}
	for chunk := range slices.Chunk(windows, clusterRowsPerStatementMax) {
		rows := make([][]any, len(chunk))
		for i, w := range chunk {
			rows[i] = []any{w.key.kind, w.key.stream, w.key.app, w.lo, w.hi}
		}
		set, args := db.rowSet(1, []rowSetColumn{{"kind", "BIGINT"}, {"stream", "TEXT"}, {"app_id", "TEXT"}, {"lo", "BIGINT"}, {"hi", "BIGINT"}}, rows)
		a, m := fmt.Sprintf("$%d", len(args)+1), fmt.Sprintf("$%d", len(args)+2)
		args = append(args, accountID, meterKey)
		same := func(t string) string {
			return t + `.account_id = ` + a + ` AND ` + t + `.meter = ` + m + ` AND ` + t + `.kind = w.kind AND ` + t +
				`.stream = w.stream AND ` + t + `.app_id = w.app_id`
		}
		// The clusters from the last one ending before lo (whose end app a cluster reaching
		// into the window inherits) to the first one starting after hi, each bound found
		// through the primary key: clusters do not overlap, so going back from lo the one
		// that ends before it is at most the second.
		// MATERIALIZED and CROSS JOIN: SQLite otherwise reads the JSON for every cluster
		// it scans instead of probing the primary key once per window.
		res, err := q.query(ctx, `WITH w AS MATERIALIZED `+set+`
			SELECT c.kind, c.stream, c.app_id, c.first_us, c.last_us, c.reps, c.end_app, w.lo, w.hi
			FROM w CROSS JOIN session_clusters c
			WHERE `+same("c")+` AND c.first_us >= COALESCE((SELECT p.first_us FROM session_clusters p WHERE `+same("p")+` AND p.first_us < w.lo AND p.last_us < w.lo
				ORDER BY p.first_us DESC LIMIT 1), -9223372036854775807)
			  AND c.first_us <= COALESCE((SELECT MIN(n.first_us) FROM session_clusters n WHERE `+same("n")+` AND n.first_us > w.hi), w.hi)
			ORDER BY c.kind, c.stream, c.app_id, c.first_us`, args...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("session clusters: %w", err)
		}
		for res.Next() {
			var lo, hi int64
			c, err := scanCluster(res, accountID, &lo, &hi)
			if err != nil {
				res.Close()
				return nil, nil, nil, err
			}
			switch {
			case c.FirstMicros > hi:
				next[c.key] = c
			case c.LastMicros < lo:
				prevEnd[c.key] = c.endApp
			default:
				near[c.key] = append(near[c.key], c)
			}
		}
		res.Close()
		if err := res.Err(); err != nil {
			return nil, nil, nil, err
		}
	}
	return near, prevEnd, next, nil
}

// clusterAfter returns the stream's first cluster starting after the given time, or nil.
func (db *DB) clusterAfter(ctx context.Context, q txq, accountID, meterKey string, k clusterKey, after int64) (*storedCluster, error) {
	rows, err := q.query(ctx, `SELECT kind, stream, app_id, first_us, last_us, reps, end_app FROM session_clusters WHERE account_id = `+db.params(1, 1)+
		` AND meter = `+db.params(2, 1)+` AND kind = `+db.params(3, 1)+` AND stream = `+db.params(4, 1)+` AND app_id = `+db.params(5, 1)+
		` AND first_us > `+db.params(6, 1)+` ORDER BY first_us LIMIT 1`, accountID, meterKey, k.kind, k.stream, k.app, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	c, err := scanCluster(rows, accountID)
	return &c, err
}

// typedRow is a row of a VALUES list with its parameters cast to the given SQL types,
// numbered from from: PostgreSQL takes an untyped parameter in VALUES for text.
func (db *DB) typedRow(from int, types ...string) string {
	params := strings.Split(db.params(from, len(types)), ", ")
	for i, t := range types {
		params[i] = "CAST(" + params[i] + " AS " + t + ")"
	}
	return "(" + strings.Join(params, ", ") + ")"
}

// storedRep is a representative event as session_clusters keeps it: what sessionization
// reads, the stream's account, kind and key being the row's.
type storedRep struct {
	Type   string `json:"t"`
	Micros int64  `json:"us"`
	App    string `json:"app,omitempty"`
	ToApp  string `json:"to,omitempty"`
}

// scanCluster reads a row of session_clusters, and into extra any columns after it.
func scanCluster(rows rowIter, accountID string, extra ...any) (storedCluster, error) {
	var (
		c    storedCluster
		reps string
	)
	if err := rows.Scan(append([]any{&c.key.kind, &c.key.stream, &c.key.app, &c.FirstMicros, &c.LastMicros, &reps, &c.endApp}, extra...)...); err != nil {
		return c, err
	}
	var stored []storedRep
	if err := json.Unmarshal([]byte(reps), &stored); err != nil || len(stored) == 0 {
		// Rows written before migration 4 kept no representatives.
		return c, fmt.Errorf("sqlstore: session cluster of stream %q at %d keeps no representatives; run `billow meters rebuild`", c.key.stream, c.FirstMicros)
	}
	c.Reps = make([]meter.Event, len(stored))
	for i, r := range stored {
		e := meter.Event{Type: r.Type, TimeMicros: r.Micros, Account: accountID, App: r.App, ToApp: r.ToApp}
		if c.key.kind == clusterConversation {
			e.Conversation = c.key.stream
		} else {
			e.Client, e.App = c.key.stream, c.key.app
		}
		c.Reps[i] = e
	}
	return c, nil
}

func encodeReps(reps []meter.Event) string {
	stored := make([]storedRep, len(reps))
	for i, e := range reps {
		stored[i] = storedRep{Type: e.Type, Micros: e.TimeMicros, App: e.App, ToApp: e.ToApp}
	}
	b, err := json.Marshal(stored)
	if err != nil {
		panic("sqlstore: representatives do not encode: " + err.Error()) // strings and integers always do
	}
	return string(b)
}

var clusterRowColumns = []rowSetColumn{{"kind", "BIGINT"}, {"stream", "TEXT"}, {"app_id", "TEXT"}, {"first_us", "BIGINT"},
	{"last_us", "BIGINT"}, {"reps", "TEXT"}, {"end_app", "TEXT"}}

// deleteClusters removes clusters of a meter's streams.
func (db *DB) deleteClusters(ctx context.Context, q txq, accountID, meterKey string, clusters []storedCluster) error {
	for chunk := range slices.Chunk(clusters, clusterRowsPerStatementMax) {
		rows := make([][]any, len(chunk))
		for i, c := range chunk {
			rows[i] = []any{c.key.kind, c.key.stream, c.key.app, c.FirstMicros}
		}
		set, args := db.rowSet(1, clusterRowColumns[:4], rows)
		args = append(args, accountID, meterKey)
		if err := q.exec(ctx, fmt.Sprintf(`DELETE FROM session_clusters WHERE account_id = $%d AND meter = $%d
			AND (kind, stream, app_id, first_us) IN (SELECT kind, stream, app_id, first_us FROM %s AS d)`, len(args)-1, len(args), set), args...); err != nil {
			return fmt.Errorf("session clusters: %w", err)
		}
	}
	return nil
}

// clusterChanges compares the clusters a batch read (old) with those it made of them
// (made): the old ones whose start no made cluster keeps are removed; made ones that are
// new or differ from the old one with their start are written. A stream extended at its
// end keeps its start, so its row is updated in place rather than deleted and inserted
// again (on PostgreSQL a heap-only update, leaving the primary key no dead entry).
func clusterChanges(old, made []storedCluster) (removed, changed []storedCluster) {
	type start struct {
		key   clusterKey
		first int64
	}
	before := make(map[start]*storedCluster, len(old))
	for i := range old {
		before[start{old[i].key, old[i].FirstMicros}] = &old[i]
	}
	kept := make(map[start]bool, len(made))
	for _, c := range made {
		k := start{c.key, c.FirstMicros}
		kept[k] = true
		if o, ok := before[k]; ok && o.LastMicros == c.LastMicros && o.endApp == c.endApp && encodeReps(o.Reps) == encodeReps(c.Reps) {
			continue
		}
		changed = append(changed, c)
	}
	for _, o := range old {
		if !kept[start{o.key, o.FirstMicros}] {
			removed = append(removed, o)
		}
	}
	return removed, changed
}

// upsertClusters stores clusters of a meter's streams, replacing those with the same start.
func (db *DB) upsertClusters(ctx context.Context, q txq, accountID, meterKey string, clusters []storedCluster) error {
	for chunk := range slices.Chunk(clusters, clusterRowsPerStatementMax) {
		rows := make([][]any, len(chunk))
		for i, c := range chunk {
			rows[i] = []any{c.key.kind, c.key.stream, c.key.app, c.FirstMicros, c.LastMicros, encodeReps(c.Reps), c.endApp}
		}
		set, args := db.rowSet(1, clusterRowColumns, rows)
		args = append(args, accountID, meterKey)
		if err := q.exec(ctx, fmt.Sprintf(`INSERT INTO session_clusters (account_id, meter, kind, stream, app_id, first_us, last_us, reps, end_app)
			SELECT $%d, $%d, kind, stream, app_id, first_us, last_us, reps, end_app FROM %s AS r WHERE true
			ON CONFLICT (account_id, meter, kind, stream, app_id, first_us) DO UPDATE
			SET last_us = excluded.last_us, reps = excluded.reps, end_app = excluded.end_app`, len(args)-1, len(args), set), args...); err != nil {
			return fmt.Errorf("session clusters: %w", err)
		}
	}
	return nil
}
