// Package ingest turns CloudEvents into stored usage events: it decodes the three wire
// forms (one event, a batch, NDJSON) and CSV for backfills, validates each event against
// its account, apps and catalog, and hands the valid ones to the store, which deduplicates
// them by (account, source, id) in the transaction that stores them. Invalid events are
// reported by index with a stable code; the rest are stored.
package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/billowhq/billow"
)

// CloudEvent is a CloudEvents 1.0 event as sent. Extension attributes are ignored.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Content types of ingest.
const (
	ContentTypeSingle = "application/cloudevents+json"
	ContentTypeBatch  = "application/cloudevents-batch+json"
	ContentTypeNDJSON = "application/x-ndjson"
	ContentTypeJSON   = "application/json"
)

// DecodeError is a body that is not what its content type says, with where.
type DecodeError struct {
	Code   string // malformed_json, batch_too_large, unsupported_media_type
	Line   int    // 1-based; 0 when unknown
	Column int
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// Decode reads the events of a request body of the given content type. A JSON body
// (application/json) may hold one event or an array of them.
func Decode(contentType string, body []byte) ([]CloudEvent, error) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = strings.TrimSpace(contentType)
	}
	if mediaType == ContentTypeJSON {
		mediaType = ContentTypeSingle
		if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
			mediaType = ContentTypeBatch
		}
	}
	var events []CloudEvent
	switch mediaType {
	case ContentTypeSingle:
		var e CloudEvent
		if err := strictJSON(body, &e); err != nil {
			return nil, jsonError(body, err)
		}
		events = []CloudEvent{e}
	case ContentTypeBatch:
		if err := strictJSON(body, &events); err != nil {
			return nil, jsonError(body, err)
		}
	case ContentTypeNDJSON:
		line := 0
		for rest := body; len(rest) > 0; {
			var raw []byte
			raw, rest, _ = bytes.Cut(rest, []byte("\n"))
			line++
			if len(bytes.TrimSpace(raw)) == 0 {
				continue
			}
			if len(events) == billow.EventBatchMax {
				return nil, tooMany()
			}
			var e CloudEvent
			if err := strictJSON(raw, &e); err != nil {
				de := jsonError(raw, err)
				de.Line += line - 1
				return nil, de
			}
			events = append(events, e)
		}
	default:
		return nil, &DecodeError{Code: "unsupported_media_type",
			Msg: fmt.Sprintf("content type %q: send %s, %s or %s", mediaType, ContentTypeSingle, ContentTypeBatch, ContentTypeNDJSON)}
	}
	if len(events) > billow.EventBatchMax {
		return nil, tooMany()
	}
	return events, nil
}

func tooMany() *DecodeError {
	return &DecodeError{Code: billow.CodeBatchTooLarge, Msg: fmt.Sprintf("a request carries at most %d events", billow.EventBatchMax)}
}

// strictJSON decodes one JSON value and refuses anything after it.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return &trailingData{offset: dec.InputOffset()}
	}
	return nil
}

// trailingData is a second JSON value after the first.
type trailingData struct{ offset int64 }

func (t *trailingData) Error() string { return "unexpected data after the JSON value" }

// jsonError places a JSON error at the line and column of the byte at fault.
func jsonError(data []byte, err error) *DecodeError {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		trailing *trailingData
	)
	at := int64(-1) // 0-based index of the byte at fault
	msg := err.Error()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		at, msg = int64(len(data)), "the JSON ends too early"
	case errors.As(err, &syntax):
		at = syntax.Offset - 1 // Offset counts the bytes read, the bad one included
	case errors.As(err, &typeErr):
		at = typeErr.Offset - 1
		msg = fmt.Sprintf("%s must be a JSON %s, not %s", fieldName(typeErr.Field), typeErr.Type.Kind(), typeErr.Value)
	case errors.As(err, &trailing):
		at = trailing.offset
		for at < int64(len(data)) && strings.ContainsRune(" \t\r\n", rune(data[at])) {
			at++
		}
	}
	de := &DecodeError{Code: billow.CodeMalformedJSON, Msg: msg}
	if at >= 0 {
		de.Line, de.Column = position(data, at)
	}
	return de
}

func fieldName(f string) string {
	if f == "" {
		return "the value"
	}
	return f
}

// position converts a 0-based byte index into a 1-based line and column; the index may
// be len(data), just past the end.
func position(data []byte, offset int64) (line, column int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	column = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, column
}

// CSVColumns are the columns of a CSV backfill file, in any order, with a header row:
// data holds the event's data as a JSON object.
var CSVColumns = []string{"id", "source", "type", "subject", "time", "data"}

// CSVReader reads events from a CSV backfill file.
type CSVReader struct {
	r       *csv.Reader
	columns map[string]int
}

// NewCSVReader reads the header row and checks that every column is there.
func NewCSVReader(r io.Reader) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	columns := map[string]int{}
	for i, name := range header {
		columns[strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))] = i
	}
	for _, want := range CSVColumns {
		if _, ok := columns[want]; !ok {
			return nil, fmt.Errorf("CSV header lacks column %q; the columns are %s", want, strings.Join(CSVColumns, ", "))
		}
	}
	return &CSVReader{r: cr, columns: columns}, nil
}

// Read returns the next event, with the line it starts on and the byte offset after it,
// or io.EOF.
func (c *CSVReader) Read() (CloudEvent, int, int64, error) {
	rec, err := c.r.Read()
	if err != nil {
		return CloudEvent{}, 0, 0, err
	}
	line, _ := c.r.FieldPos(0)
	get := func(name string) string { return rec[c.columns[name]] }
	e := CloudEvent{SpecVersion: "1.0", ID: get("id"), Source: get("source"), Type: get("type"), Subject: get("subject"), Time: get("time")}
	if d := strings.TrimSpace(get("data")); d != "" {
		e.Data = json.RawMessage(d)
	}
	return e, line, c.r.InputOffset(), nil
}
