package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// benchEvents returns n validated events as ingest would store them.
func benchEvents(accountID, appID string, from, n int, start time.Time) []billow.UsageEvent {
	out := make([]billow.UsageEvent, n)
	for i := range n {
		k := from + i
		out[i] = billow.UsageEvent{AccountID: accountID, Source: "bench", ID: fmt.Sprintf("ev-%d", k), Type: "conversation.message",
			Time: start.Add(time.Duration(k) * time.Second), AppID: appID, Stream: fmt.Sprintf("conv-%d", k%5000),
			Data:        []byte(fmt.Sprintf(`{"app":%q,"conversation":"conv-%d"}`, appID, k%5000)),
			ContentHash: fmt.Sprintf("%032x", k), ReceivedAt: start}
	}
	return out
}

// BenchmarkInsertEvents compares the store's deduplicating insert with the physical
// limit beside it: a plain multi-row INSERT of the same rows into the same table, in one
// transaction per 1,000 rows, with no conflict handling and nothing read back.
func BenchmarkInsertEvents(b *testing.B) {
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		for _, mode := range []string{"store", "raw"} {
			b.Run(string(engine)+"/"+mode, func(b *testing.B) {
				env := storetest.Open(b, engine)
				a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform"})
				if err != nil {
					b.Fatal(err)
				}
				app, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "bot", Name: "Bot"})
				if err != nil {
					b.Fatal(err)
				}
				batches := make([][]billow.UsageEvent, b.N)
				for i := range b.N {
					batches[i] = benchEvents(a.ID, app.ID, i*billow.EventBatchMax, billow.EventBatchMax, storetest.Start)
				}
				b.ResetTimer()
				for i := range b.N {
					if mode == "raw" {
						err = env.DB.RawInsertEvents(ctx, batches[i])
					} else {
						_, _, err = env.DB.InsertEvents(ctx, batches[i])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*billow.EventBatchMax)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
