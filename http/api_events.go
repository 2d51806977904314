package http

import (
	"context"
	"errors"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ingest"
)

// Ingester stores usage events.
type Ingester interface {
	Ingest(ctx context.Context, caller billow.Principal, events []ingest.CloudEvent) (*billow.IngestResult, error)
}

func (s *Server) registerEvents() {
	type ingestIn struct {
		ContentType string `header:"Content-Type"`
		RawBody     []byte
	}
	type ingestOut struct{ Body *billow.IngestResult }
	op := operation("ingestEvents", http.MethodPost, "/v1/events", "Report usage events", "Usage",
		"Stores CloudEvents 1.0 usage events: one event (`application/cloudevents+json`), a batch of up to 1,000 "+
			"(`application/cloudevents-batch+json`), or NDJSON (`application/x-ndjson`). `subject` is the account's external id, "+
			"`data.app` the app's. Each event is validated on its own: invalid ones are reported in `rejected` by index with a "+
			"code, the others are stored. An event is identified by (account, source, id): sent again with the same content it "+
			"counts once (`duplicates`); sent again with other content it is rejected as `conflicting_duplicate` and the first "+
			"one is kept. The answer comes after the commit.")
	op.DefaultStatus = http.StatusOK
	op.MaxBodyBytes = billow.EventsBodyMaxBytes
	// Each event is validated on its own by ingest, which rejects it by index; huma would
	// refuse the whole request, and cannot tell a batch from one event by content type.
	op.SkipValidateBody = true
	op.Errors = []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}
	event := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(ingest.CloudEvent{}), true, "CloudEvent")
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		ingest.ContentTypeSingle: {Schema: event},
		ingest.ContentTypeBatch:  {Schema: &huma.Schema{Type: "array", Items: event, MaxItems: ptr(billow.EventBatchMax)}},
		ingest.ContentTypeNDJSON: {Schema: &huma.Schema{Type: "string", Description: "One CloudEvent JSON object per line."}},
	}}
	register(s, op, func(ctx context.Context, in *ingestIn) (*ingestOut, error) {
		events, err := ingest.Decode(in.ContentType, in.RawBody)
		var de *ingest.DecodeError
		if errors.As(err, &de) {
			status := map[string]int{billow.CodeBatchTooLarge: http.StatusRequestEntityTooLarge,
				"unsupported_media_type": http.StatusUnsupportedMediaType}[de.Code]
			if status == 0 {
				status = http.StatusBadRequest
			}
			p := newProblem(status, de.Code, de.Error())
			p.Errors = []*huma.ErrorDetail{{Location: "body", Message: de.Error()}}
			return nil, p
		}
		if err != nil {
			return nil, err
		}
		result, err := s.ingester.Ingest(ctx, principal(ctx), events)
		if err != nil {
			return nil, err
		}
		return &ingestOut{Body: result}, nil
	})
}
