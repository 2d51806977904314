package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
)

// field kinds of the vocabulary's data.
const (
	fieldText    = iota // a non-empty string
	fieldApp            // an app of the account, by external id or id
	fieldCount          // a non-negative integer
	fieldSeconds        // a non-negative number with at most 3 decimals (millisecond precision)
	fieldNumber         // a number with at most 3 decimals: a custom field a meter adds up or compares
	fieldBool           // true or false
)

type fieldRule struct {
	name     string
	kind     int
	required bool
	oneOf    []string
}

// vocabulary is the data each event type of DESIGN.md carries, and which field names its stream.
var vocabulary = map[string]struct {
	fields []fieldRule
	stream string
}{
	billow.EventConversationStarted: {[]fieldRule{{"app", fieldApp, true, nil}, {"conversation", fieldText, true, nil}, {"channel", fieldText, false, nil}}, "conversation"},
	billow.EventConversationMessage: {[]fieldRule{{"app", fieldApp, true, nil}, {"conversation", fieldText, true, nil}}, "conversation"},
	billow.EventConversationRouted:  {[]fieldRule{{"conversation", fieldText, true, nil}, {"to_app", fieldApp, true, nil}, {"app", fieldApp, false, nil}}, "conversation"},
	billow.EventConversationEnded:   {[]fieldRule{{"conversation", fieldText, true, nil}, {"app", fieldApp, false, nil}}, "conversation"},
	billow.EventAPIRequest:          {[]fieldRule{{"app", fieldApp, true, nil}, {"client", fieldText, true, nil}}, "client"},
	billow.EventVoiceInteraction: {[]fieldRule{{"app", fieldApp, true, nil}, {"kind", fieldText, true, []string{"stt", "tts", "gateway"}},
		{"seconds", fieldSeconds, true, nil}}, ""},
	billow.EventAgentLogin:     {[]fieldRule{{"agent", fieldText, true, nil}, {"product", fieldText, true, []string{"contact_center", "agent_ai"}}}, "agent"},
	billow.EventAgentLogout:    {[]fieldRule{{"agent", fieldText, true, nil}, {"product", fieldText, true, []string{"contact_center", "agent_ai"}}}, "agent"},
	billow.EventSearchIngested: {[]fieldRule{{"app", fieldApp, true, nil}, {"bytes", fieldCount, true, nil}}, ""},
	billow.EventLLMUsage: {[]fieldRule{{"app", fieldApp, true, nil}, {"provider", fieldText, true, nil}, {"model", fieldText, true, nil},
		{"input_tokens", fieldCount, true, nil}, {"output_tokens", fieldCount, true, nil}, {"byo_key", fieldBool, false, nil}}, ""},
	billow.EventCallStarted: {[]fieldRule{{"call", fieldText, true, nil}, {"app", fieldApp, true, nil}}, "call"},
	billow.EventCallEnded:   {[]fieldRule{{"call", fieldText, true, nil}, {"app", fieldApp, false, nil}}, "call"},
}

// tenant is what validation needs of one account: resolved once per request.
type tenant struct {
	account *billow.Account
	apps    map[string]*billow.App // by external id and by id
	catalog *catalog.Catalog
	// customTypes are the event types the account's catalog meters beyond the vocabulary,
	// with the rules of the fields its meters read: data.app, and the numbers they add up
	// or compare. Other fields are the platform's business.
	customTypes map[string][]fieldRule
}

// customRules returns the field rules of each custom event type the catalog meters.
func customRules(cat *catalog.Catalog) map[string][]fieldRule {
	out := map[string][]fieldRule{}
	for _, m := range cat.Meters {
		var numeric []string
		switch m.Aggregation {
		case catalog.AggregationSum:
			numeric = m.Fields
		case catalog.AggregationMin, catalog.AggregationMax, catalog.AggregationLatest:
			numeric = []string{m.Field}
		}
		for _, typ := range m.EventTypes {
			if _, known := vocabulary[typ]; known {
				continue
			}
			rules, seen := out[typ]
			if !seen {
				rules = []fieldRule{{"app", fieldApp, false, nil}}
			}
			for _, f := range numeric {
				if !slices.ContainsFunc(rules, func(r fieldRule) bool { return r.name == f }) {
					rules = append(rules, fieldRule{f, fieldNumber, false, nil})
				}
			}
			out[typ] = rules
		}
	}
	return out
}

// rejection is a validation failure of one event.
type rejection struct{ code, detail string }

func reject(code, format string, args ...any) *rejection {
	return &rejection{code: code, detail: fmt.Sprintf(format, args...)}
}

// validate turns a CloudEvent of a known tenant into a UsageEvent.
func validate(e *CloudEvent, t *tenant, now time.Time) (billow.UsageEvent, *rejection) {
	ev := billow.UsageEvent{AccountID: t.account.ID, Source: e.Source, ID: e.ID, Type: e.Type, ReceivedAt: now}
	ts, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil {
		return ev, reject(billow.CodeInvalidTime, "time %q is not an RFC 3339 time such as 2026-05-01T12:00:00Z", e.Time)
	}
	ev.Time = ts.UTC().Truncate(time.Microsecond)
	if ev.Time.After(now.Add(billow.EventClockSkewMax)) {
		return ev, reject(billow.CodeTimeInFuture, "time %s is more than %s ahead of Billow's clock", e.Time, billow.EventClockSkewMax)
	}
	if len(e.Data) > billow.EventDataMaxBytes {
		return ev, reject(billow.CodeInvalidData, "data is larger than %d bytes", billow.EventDataMaxBytes)
	}
	var data map[string]any
	if len(e.Data) == 0 || string(e.Data) == "null" {
		data = map[string]any{}
	} else {
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil || data == nil {
			return ev, reject(billow.CodeInvalidData, "data must be a JSON object")
		}
	}
	rules, known := vocabulary[e.Type]
	if !known {
		custom, metered := t.customTypes[e.Type]
		if !metered {
			return ev, reject(billow.CodeUnknownType, "type %q is neither in the event vocabulary nor metered by catalog %q", e.Type, t.account.Catalog)
		}
		rules.fields = custom
		if len(data) > meter.FieldsPerEventMax {
			return ev, reject(billow.CodeInvalidData, "data has %d fields; an event of a custom type carries at most %d", len(data), meter.FieldsPerEventMax)
		}
	}
	for _, r := range rules.fields {
		v, present := data[r.name]
		if !present || v == nil {
			if r.required {
				return ev, reject(billow.CodeMissingField, "%s requires data.%s", e.Type, r.name)
			}
			continue
		}
		if rej := checkField(&ev, t, r, v, data); rej != nil {
			return ev, rej
		}
	}
	if rules.stream != "" {
		ev.Stream, _ = data[rules.stream].(string)
	}
	if e.Type == billow.EventLLMUsage {
		if rej := checkLLMCost(t, data); rej != nil {
			return ev, rej
		}
	}
	canonical, err := json.Marshal(data)
	if err != nil {
		return ev, reject(billow.CodeInvalidData, "data cannot be stored: %v", err)
	}
	ev.Data = canonical
	h := sha256.New()
	// The account's id, not the subject: one event sent under the account's id and under
	// its external id is the same event.
	fmt.Fprintf(h, "%s\n%d\n%s\n", e.Type, ev.Time.UnixMicro(), t.account.ID)
	h.Write(canonical)
	ev.ContentHash = hex.EncodeToString(h.Sum(nil)[:16])
	return ev, nil
}

func checkField(ev *billow.UsageEvent, t *tenant, r fieldRule, v any, data map[string]any) *rejection {
	switch r.kind {
	case fieldText, fieldApp:
		s, ok := v.(string)
		if !ok || s == "" || len(s) > billow.EventAttributeMaxBytes {
			return reject(billow.CodeInvalidField, "data.%s must be a non-empty string of at most %d bytes", r.name, billow.EventAttributeMaxBytes)
		}
		if len(r.oneOf) > 0 && !slices.Contains(r.oneOf, s) {
			return reject(billow.CodeInvalidField, "data.%s must be one of %s, not %q", r.name, strings.Join(r.oneOf, ", "), s)
		}
		if r.kind == fieldApp {
			app, ok := t.apps[s]
			if !ok {
				return reject(billow.CodeUnknownApp, "account %q has no app %q (data.%s)", t.account.ExternalID, s, r.name)
			}
			// Stored by id: external ids are the platform's names, ids never change.
			data[r.name] = app.ID
			if r.name == "app" {
				ev.AppID = app.ID
			}
		}
	case fieldCount, fieldSeconds, fieldNumber:
		q, rej := quantity(r, v)
		if rej != nil {
			return rej
		}
		// Stored as the plain decimal the meters read: 1e3 becomes 1000.
		data[r.name] = json.Number(q.String())
	case fieldBool:
		if _, ok := v.(bool); !ok {
			return reject(billow.CodeInvalidField, "data.%s must be true or false", r.name)
		}
	}
	return nil
}

// quantity reads a numeric data field: a JSON number within ±billow.EventQuantityMax
// with the decimals its kind allows. The exponent is bounded before any arithmetic: a
// number such as 1e999999999 is a few bytes of JSON, but its digits are not.
func quantity(r fieldRule, v any) (decimal.Decimal, *rejection) {
	if d, ok := parseQuantity(r.kind, v); ok {
		return d, nil
	}
	// The message is built only for a refusal: valid numbers are the hot path.
	limit := strconv.FormatInt(billow.EventQuantityMax, 10)
	decimals := strconv.Itoa(billow.EventQuantityDecimalsMax)
	want := map[int]string{
		fieldCount:   "a whole number from 0 to " + limit,
		fieldSeconds: "a number of seconds from 0 to " + limit + " with at most " + decimals + " decimals",
		fieldNumber:  "a number from -" + limit + " to " + limit + " with at most " + decimals + " decimals",
	}[r.kind]
	return decimal.Decimal{}, reject(billow.CodeInvalidField, "data.%s must be %s, not %v", r.name, want, v)
}

// parseQuantity reads v as a quantity of the given field kind, and reports whether it is one.
func parseQuantity(kind int, v any) (decimal.Decimal, bool) {
	n, ok := v.(json.Number)
	if !ok || len(n) > numberTextMaxBytes {
		return decimal.Decimal{}, false
	}
	d, err := decimal.NewFromString(string(n))
	if err != nil || d.Exponent() < -numberTextMaxBytes || d.Exponent() > numberTextMaxBytes {
		return decimal.Decimal{}, false
	}
	decimals := int32(billow.EventQuantityDecimalsMax)
	if kind == fieldCount {
		decimals = 0
	}
	if !d.Equal(d.Truncate(decimals)) || d.Abs().GreaterThan(eventQuantityMax) ||
		d.IsNegative() && kind != fieldNumber {
		return decimal.Decimal{}, false
	}
	return d, true
}

// numberTextMaxBytes bounds the text of a number in event data, and the magnitude of its
// exponent: the meter engine's bound on number text, far more than any quantity needs.
const numberTextMaxBytes = meter.NumberTextLengthBytesMax

// eventQuantityMax is billow.EventQuantityMax as a decimal, made once.
var eventQuantityMax = decimal.NewFromInt(billow.EventQuantityMax)

// checkLLMCost refuses an llm.usage event of a model the catalog does not price (unless
// made with the customer's own key, which costs nothing), and one whose cost would not fit
// the ledger's bound for one transfer: tokens are bounded, a price per million is not.
func checkLLMCost(t *tenant, data map[string]any) *rejection {
	count := func(k string) int64 { n, _ := data[k].(json.Number); i, _ := n.Int64(); return i }
	e := meter.Event{Type: meter.TypeLLMUsage, InputTokens: count("input_tokens"), OutputTokens: count("output_tokens")}
	e.Provider, _ = data["provider"].(string)
	e.Model, _ = data["model"].(string)
	e.BYOKey, _ = data["byo_key"].(bool)
	ucr, err := meter.LLMCostMicroCredits(&e, &t.catalog.ProviderCosts, t.catalog.Credits)
	var merr *meter.Error
	if errors.As(err, &merr) && merr.Code == meter.CodeUnknownModel {
		return reject(billow.CodeUnknownModel, "catalog %q has no cost for %s model %q; add it to provider_costs.llm or send byo_key: true",
			t.account.Catalog, e.Provider, e.Model)
	}
	if err != nil || ucr > billow.TransferMaxUcr {
		return reject(billow.CodeInvalidField, "the cost of %d input and %d output tokens of %s is more than %d credits, the most one event may cost",
			e.InputTokens, e.OutputTokens, e.Model, billow.TransferMaxUcr/billow.MicroCreditsPerCredit)
	}
	return nil
}
