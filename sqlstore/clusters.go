package sqlstore

import (
	"cmp"
	"context"
	"slices"

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

// clusterKey names a session stream: a conversation, or a client's API activity on an app.
type clusterKey struct {
	kind   int64
	stream string
	app    string
}

type cluster struct{ first, last int64 }

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

// mergeClusters joins clusters and new event times wherever two are at most idle apart
// (a gap of exactly the idle timeout does not split, as in the meter engine).
func mergeClusters(old []cluster, times []int64, idle int64) []cluster {
	all := slices.Clone(old)
	for _, t := range times {
		all = append(all, cluster{t, t})
	}
	slices.SortFunc(all, func(a, b cluster) int { return cmp.Compare(a.first, b.first) })
	var out []cluster
	for _, c := range all {
		if n := len(out); n > 0 && c.first-out[n-1].last <= idle {
			out[n-1].last = max(out[n-1].last, c.last)
			continue
		}
		out = append(out, c)
	}
	return out
}

// sessionDeltas are the changes in a sessions meter's rollups made by newly stored
// events, with session_clusters brought up to date. For each stream the batch touches,
// the clusters within the idle timeout of its new events are merged with them; the
// sessions of the old clusters and of the merged ones are computed from their
// representative events, and the difference is the delta. The cost depends on the
// number of streams and clusters touched, not on how long a stream or cluster is.
func (db *DB) sessionDeltas(ctx context.Context, q txq, accountID string, m *catalog.Meter, fresh []billow.UsageEvent, freshKeys map[eventKey]bool) ([]usage.Delta, error) {
	idle := m.IdleTimeoutMinutes * 60_000_000
	times := map[clusterKey][]int64{}
	for i := range fresh {
		if k, ok := clusterKeyOf(m, &fresh[i]); ok {
			times[k] = append(times[k], fresh[i].Time.UnixMicro())
		}
	}
	keys := make([]clusterKey, 0, len(times))
	for k := range times {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b clusterKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.stream, b.stream), cmp.Compare(a.app, b.app))
	})
	var deltas []usage.Delta
	// sessionsOf adds (sign 1) or takes back (sign -1) the sessions of consecutive
	// clusters of one stream, each inheriting the app its predecessor ended on, and
	// returns the app the last one ends on.
	sessionsOf := func(k clusterKey, clusters []cluster, exclude map[eventKey]bool, extra int, inherited string, sign int64) (string, error) {
		for _, c := range clusters {
			reps, err := db.clusterReps(ctx, q, accountID, k, c, exclude, extra)
			if err != nil {
				return "", err
			}
			d, err := usage.ClusterSessions(m, reps, inherited)
			if err != nil {
				return "", err
			}
			if sign < 0 {
				d = usage.Negate(d)
			}
			deltas = append(deltas, d...)
			if k.kind == clusterConversation {
				inherited = usage.ServingApp(m, reps, inherited)
			}
		}
		return inherited, nil
	}
	for _, k := range keys {
		ts := times[k]
		lo, hi := slices.Min(ts), slices.Max(ts)
		old, prev, err := db.clustersNear(ctx, q, accountID, m.Key, k, lo-idle, hi+idle)
		if err != nil {
			return nil, err
		}
		merged := mergeClusters(old, ts, idle)
		inherited := ""
		if prev != nil && k.kind == clusterConversation {
			reps, err := db.clusterReps(ctx, q, accountID, k, *prev, freshKeys, 0)
			if err != nil {
				return nil, err
			}
			inherited = usage.ServingApp(m, reps, "")
		}
		oldEnd, err := sessionsOf(k, old, freshKeys, len(ts), inherited, -1)
		if err != nil {
			return nil, err
		}
		newEnd, err := sessionsOf(k, merged, nil, 0, inherited, 1)
		if err != nil {
			return nil, err
		}
		// The clusters after the window inherit the app the window ends on when they name
		// none themselves (a conversation resumed with only an ended event, say). If the
		// batch changed that app, their sessions move: walk on while it differs.
		for after := hi + idle; k.kind == clusterConversation && oldEnd != newEnd; {
			next, err := db.clusterAfter(ctx, q, accountID, m.Key, k, after)
			if err != nil {
				return nil, err
			}
			if next == nil {
				break
			}
			if oldEnd, err = sessionsOf(k, []cluster{*next}, freshKeys, 0, oldEnd, -1); err != nil {
				return nil, err
			}
			if newEnd, err = sessionsOf(k, []cluster{*next}, freshKeys, 0, newEnd, 1); err != nil {
				return nil, err
			}
			after = next.first
		}
		for _, c := range old {
			if err := q.exec(ctx, `DELETE FROM session_clusters WHERE account_id = `+db.params(1, 1)+` AND meter = `+db.params(2, 1)+
				` AND kind = `+db.params(3, 1)+` AND stream = `+db.params(4, 1)+` AND app_id = `+db.params(5, 1)+` AND first_us = `+db.params(6, 1),
				accountID, m.Key, k.kind, k.stream, k.app, c.first); err != nil {
				return nil, err
			}
		}
		if err := db.insertClusters(ctx, q, accountID, m.Key, k, merged); err != nil {
			return nil, err
		}
	}
	return usage.Merge(deltas), nil
}

// clustersNear returns the stream's clusters within [from, to] — those starting in it,
// and the last one starting before it if it reaches into it — and, when that last
// earlier one does not reach in, it as prev.
func (db *DB) clustersNear(ctx context.Context, q txq, accountID, meterKey string, k clusterKey, from, to int64) (near []cluster, prev *cluster, err error) {
	where := `account_id = ` + db.params(1, 1) + ` AND meter = ` + db.params(2, 1) + ` AND kind = ` + db.params(3, 1) +
		` AND stream = ` + db.params(4, 1) + ` AND app_id = ` + db.params(5, 1)
	rows, err := q.query(ctx, `SELECT first_us, last_us FROM session_clusters WHERE `+where+` AND first_us < `+db.params(6, 1)+
		` ORDER BY first_us DESC LIMIT 1`, accountID, meterKey, k.kind, k.stream, k.app, from)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var c cluster
		if err := rows.Scan(&c.first, &c.last); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if c.last >= from {
			near = append(near, c)
		} else {
			prev = &c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = q.query(ctx, `SELECT first_us, last_us FROM session_clusters WHERE `+where+` AND first_us >= `+db.params(6, 1)+
		` AND first_us <= `+db.params(7, 1)+` ORDER BY first_us`, accountID, meterKey, k.kind, k.stream, k.app, from, to)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c cluster
		if err := rows.Scan(&c.first, &c.last); err != nil {
			return nil, nil, err
		}
		near = append(near, c)
	}
	return near, prev, rows.Err()
}

// clusterAfter returns the stream's first cluster starting after the given time, or nil.
func (db *DB) clusterAfter(ctx context.Context, q txq, accountID, meterKey string, k clusterKey, after int64) (*cluster, error) {
	rows, err := q.query(ctx, `SELECT first_us, last_us FROM session_clusters WHERE account_id = `+db.params(1, 1)+
		` AND meter = `+db.params(2, 1)+` AND kind = `+db.params(3, 1)+` AND stream = `+db.params(4, 1)+` AND app_id = `+db.params(5, 1)+
		` AND first_us > `+db.params(6, 1)+` ORDER BY first_us LIMIT 1`, accountID, meterKey, k.kind, k.stream, k.app, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var c cluster
	if err := rows.Scan(&c.first, &c.last); err != nil {
		return nil, err
	}
	return &c, nil
}

// clusterReps loads the events a cluster's sessions depend on: those at its first and
// last moments, its routings, and the earliest event that names an app. Events in
// exclude are left out (the batch's own, when the cluster is the one before the batch);
// extra widens the search for the earliest app past that many excluded events.
func (db *DB) clusterReps(ctx context.Context, q txq, accountID string, k clusterKey, c cluster, exclude map[eventKey]bool, extra int) ([]meter.Event, error) {
	typeOf := []string{billow.EventAPIRequest}
	if k.kind == clusterConversation {
		typeOf = billow.ConversationEventTypes
	}
	var found []billow.UsageEvent
	load := func(typ string, from, to int64, limit int) error {
		// Parameters numbered in the order they appear: SQLite binds them by position.
		args := []any{accountID, typ, k.stream, from, to}
		appCond := ""
		if k.kind == clusterAPI {
			appCond = ` AND app_id = ` + db.params(6, 1)
			args = append(args, k.app)
		}
		args = append(args, limit)
		rows, err := q.query(ctx, `SELECT `+eventColumns+` FROM events WHERE account_id = `+db.params(1, 1)+` AND type = `+db.params(2, 1)+
			` AND stream = `+db.params(3, 1)+` AND time >= `+db.params(4, 1)+` AND time <= `+db.params(5, 1)+appCond+
			` ORDER BY time, source, id LIMIT `+db.params(len(args), 1), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			if !exclude[eventKey{e.AccountID, e.Source, e.ID}] {
				found = append(found, e)
			}
		}
		return rows.Err()
	}
	const atOneMomentMax = 1000 // events of one stream in one microsecond; more is not real traffic
	for _, typ := range typeOf {
		if err := load(typ, c.first, c.first, atOneMomentMax); err != nil {
			return nil, err
		}
		if c.last != c.first {
			if err := load(typ, c.last, c.last, atOneMomentMax); err != nil {
				return nil, err
			}
		}
	}
	if k.kind == clusterConversation {
		if err := load(billow.EventConversationRouted, c.first, c.last, 1<<30); err != nil {
			return nil, err
		}
		// The earliest event naming the conversation's app: started and message events
		// always carry one.
		for _, typ := range []string{billow.EventConversationStarted, billow.EventConversationMessage} {
			if err := load(typ, c.first, c.last, 1+extra); err != nil {
				return nil, err
			}
		}
	}
	seen := map[eventKey]bool{}
	out := make([]meter.Event, 0, len(found))
	for i := range found {
		key := eventKey{found[i].AccountID, found[i].Source, found[i].ID}
		if seen[key] {
			continue
		}
		seen[key] = true
		me, err := usage.MeterEvent(&found[i])
		if err != nil {
			return nil, err
		}
		out = append(out, me)
	}
	return out, nil
}

// insertClusters stores clusters of a stream.
func (db *DB) insertClusters(ctx context.Context, q txq, accountID, meterKey string, k clusterKey, clusters []cluster) error {
	for _, c := range clusters {
		if err := q.exec(ctx, `INSERT INTO session_clusters (account_id, meter, kind, stream, app_id, first_us, last_us) VALUES (`+
			db.params(1, 7)+`)`, accountID, meterKey, k.kind, k.stream, k.app, c.first, c.last); err != nil {
			return err
		}
	}
	return nil
}
