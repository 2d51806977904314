package http

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
)

// quantitySchema is the OpenAPI schema of billow.Quantity: a JSON number. huma would
// describe the struct as an empty object; the root package does not import huma to say
// otherwise, so the HTTP layer registers this type in its place.
type quantitySchema struct{}

// Schema describes a quantity.
func (quantitySchema) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeNumber, Description: "An exact decimal quantity, written with every digit (never a float, never a string)."}
}

func (s *Server) registerUsage() {
	s.api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[billow.Quantity](), reflect.TypeFor[quantitySchema]())

	type usageIn struct {
		AccountPath
		Meter   string    `query:"meter" required:"true" maxLength:"64" doc:"Key of a meter of the account's catalog version."`
		From    time.Time `query:"from" required:"true" doc:"Start of the range, RFC 3339 (inclusive). Usage is kept per UTC hour: a from inside an hour moves to its start."`
		To      time.Time `query:"to" required:"true" doc:"End of the range, RFC 3339 (exclusive); a to inside an hour moves to its end. At most 732 days after from."`
		Window  string    `query:"window" enum:"hour,day,month,none" default:"none" doc:"Bucket width: UTC hours, or days and months of the account's time zone, or none (one bucket)."`
		GroupBy string    `query:"group_by" enum:"app" doc:"app: one entry per bucket and app that has usage."`
		App     string    `query:"app" maxLength:"255" doc:"Only this app: its id (app_…) or external id."`
	}
	type usageOut struct{ Body *billow.UsageResult }
	register(s, operation("getUsage", http.MethodGet, "/v1/accounts/{account}/usage", "Query a meter's usage", "Usage",
		"Returns the quantity of one meter per bucket, read from hourly rollups (never from raw events). Day and month buckets "+
			"follow the account's time zone, so the day clocks change is 23 or 25 hours long. Without group_by every bucket is "+
			"listed; a min, max or latest meter has no entry for a bucket without a value."),
		func(ctx context.Context, in *usageIn) (*usageOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			res, err := s.store.Usage(ctx, billow.UsageQueryInput{Account: a.ID, Meter: in.Meter, From: in.From, To: in.To,
				Window: billow.UsageWindow(in.Window), GroupByApp: in.GroupBy == "app", App: in.App})
			if err != nil {
				return nil, s.inQuery(ctx, err)
			}
			return &usageOut{Body: res}, nil
		})

	type trendsIn struct {
		AccountPath
		Range string    `query:"range" enum:"24h,7d,30d,90d,custom" default:"30d" doc:"24h: hourly buckets up to the end of the current UTC hour. 7d, 30d, 90d: days of the account's time zone, today the last. custom: days over from and to."`
		From  time.Time `query:"from" doc:"With range=custom: start, RFC 3339."`
		To    time.Time `query:"to" doc:"With range=custom: end, RFC 3339 (exclusive)."`
		App   string    `query:"app" maxLength:"255" doc:"Only this app: its id (app_…) or external id."`
	}
	type trendsOut struct{ Body *billow.UsageTrends }
	register(s, operation("getUsageTrends", http.MethodGet, "/v1/accounts/{account}/usage/trends", "Usage trends", "Usage",
		"Billing sessions, voice sessions and the agent count per bucket, as the Usage Trends dashboard shows them. "+
			"agent_count is the peak of concurrent agent seats in the bucket, summed over products; it is absent for "+
			"enterprise accounts and with an app filter (agents are not an app's)."),
		func(ctx context.Context, in *trendsIn) (*trendsOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			res, err := s.store.UsageTrends(ctx, billow.UsageTrendsInput{Account: a.ID, Range: billow.TrendsRange(in.Range),
				From: in.From, To: in.To, App: in.App})
			if err != nil {
				return nil, s.inQuery(ctx, err)
			}
			return &trendsOut{Body: res}, nil
		})

	type summaryIn struct{ AccountPath }
	type summaryOut struct{ Body *billow.UsageSummary }
	register(s, operation("getUsageSummary", http.MethodGet, "/v1/accounts/{account}/usage/summary", "Usage in the current period", "Usage",
		"Every meter of the account's catalog version with its quantity in the current period. Until subscriptions exist "+
			"the current period is the calendar month of the account's time zone. Provider cost meters are in credits."),
		func(ctx context.Context, in *summaryIn) (*summaryOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			res, err := s.store.UsageSummary(ctx, billow.UsageSummaryInput{Account: a.ID})
			if err != nil {
				return nil, err
			}
			return &summaryOut{Body: res}, nil
		})
}

// inQuery turns an error into its problem with the offending fields located in the
// query string, where usage queries take their input (problemFor places fields in the
// body, where every other operation takes them).
func (s *Server) inQuery(ctx context.Context, err error) error {
	p := problemFor(ctx, s.logger, err)
	for _, e := range p.Errors {
		e.Location = "query." + strings.TrimPrefix(e.Location, "body.")
	}
	return p
}
