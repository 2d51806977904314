package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// benchBatches returns n request bodies of 1,000 realistic events each.
func benchBatches(n int, start time.Time) [][]byte {
	types := []string{
		`"type":"conversation.message","data":{"app":"front-desk","conversation":"conv-%d"}`,
		`"type":"api.request","data":{"app":"sales","client":"client-%d"}`,
		`"type":"voice.interaction","data":{"app":"front-desk","kind":"stt","seconds":%d.25}`,
		`"type":"llm.usage","data":{"app":"sales","provider":"openai","model":"gpt-4o","input_tokens":%d,"output_tokens":350}`,
	}
	out := make([][]byte, n)
	for b := range n {
		var sb strings.Builder
		sb.WriteByte('[')
		for i := range billow.EventBatchMax {
			if i > 0 {
				sb.WriteByte(',')
			}
			k := b*billow.EventBatchMax + i
			fmt.Fprintf(&sb, `{"specversion":"1.0","id":"ev-%d","source":"bench","subject":"acme","time":%q,`,
				k, start.Add(time.Duration(k)*time.Second).Format(time.RFC3339Nano))
			fmt.Fprintf(&sb, types[k%len(types)], k%5000)
			sb.WriteByte('}')
		}
		sb.WriteByte(']')
		out[b] = []byte(sb.String())
	}
	return out
}

// BenchmarkIngest measures the whole ingest path of one batch: decode, validate,
// deduplicate and commit.
func BenchmarkIngest(b *testing.B) {
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			env := storetest.Open(b, engine)
			svc := setupB(b, env)
			batches := benchBatches(b.N, env.Clock.Now().Add(-90*24*time.Hour))
			b.ResetTimer()
			for i := range b.N {
				events, err := ingest.Decode(ingest.ContentTypeBatch, batches[i])
				if err != nil {
					b.Fatal(err)
				}
				res, err := svc.Ingest(ctx, operator, events)
				if err != nil || res.Accepted != billow.EventBatchMax {
					b.Fatalf("%+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(b.N*billow.EventBatchMax)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func setupB(b *testing.B, env *storetest.Env) *ingest.Service {
	b.Helper()
	a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform"})
	if err != nil {
		b.Fatal(err)
	}
	for _, app := range []string{"front-desk", "sales"} {
		if _, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: app, Name: app}); err != nil {
			b.Fatal(err)
		}
	}
	return ingest.New(env.DB, env.Clock)
}
