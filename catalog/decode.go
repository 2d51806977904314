package catalog

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
	"gopkg.in/yaml.v3"
)

// Defaults of optional fields (docs/catalog.md lists them all).
const (
	defaultPerCurrencyUnit         = 1000 // DESIGN: 1 USD = 1,000 credits unless the catalog says otherwise
	defaultPurchaseMaxUnits        = 10_000
	defaultBlockMinutes            = 15 // seed 000: 15-minute billing sessions
	defaultIdleTimeoutMinutes      = 30
	defaultHeartbeatTimeoutMinutes = 12 * 60
	defaultMaxQuantity             = 1
	defaultGracePeriodDays         = 7  // seed 000: services stop some days after a failed renewal
	defaultPaymentTermsDays        = 14 // an open invoice is due two weeks after its date
)

// defaultRetryDays is the dunning schedule when the catalog gives none (issue: days 1, 3, 5, 7).
var defaultRetryDays = []int64{1, 3, 5, 7}

// catalog decodes the root mapping. Sections are decoded in dependency order, whatever
// their order in the file, so that every reference can be checked against what it names
// the moment it is read, at its own node.
func (d *decoder) catalog(root *yaml.Node) *Catalog {
	d.digits = -1
	if !d.version(root) {
		return nil
	}
	m, ok := d.fields(root, "", []string{"billow_catalog", "name", "currency", "credits", "billing",
		"products", "entitlements", "meters", "plans", "add_ons", "provider_costs"},
		"billow_catalog", "name", "currency", "products", "plans")
	if !ok {
		return nil
	}
	c := &Catalog{}
	if n, path := m.at("billow_catalog"); n != nil {
		c.FormatVersion, _ = d.integerNode(n, path, FormatVersion, FormatVersion)
	}
	c.Name = d.text(m, "name", NameLengthBytesMax)
	c.Currency, c.CurrencyDigits = d.currencyOf(m)

	var credits *mapping
	if n, path := m.at("credits"); n != nil {
		credits, _ = d.fields(n, path, []string{"per_currency_unit", "grace_buffer_credits",
			"packages_credits", "purchase_min_credits", "purchase_max_credits"})
	}
	c.Credits = d.credits(credits)

	var billing *mapping
	if n, path := m.at("billing"); n != nil {
		billing, _ = d.fields(n, path, []string{"retry_days", "grace_period_days", "payment_terms_days"})
	}
	c.Billing = d.billing(billing)

	c.Products = []Product{}
	if n, path := m.at("products"); n != nil {
		d.markBroken("products", n)
		seen := map[string]int{}
		d.sequence(n, path, ProductsMax, "ProductsMax", func(_ int, item *yaml.Node, p string) {
			if pm, ok := d.fields(item, p, []string{"key", "name", "description"}, "key", "name"); ok {
				pr := Product{Key: d.key(pm, "key"), Name: d.text(pm, "name", NameLengthBytesMax),
					Description: d.text(pm, "description", DescriptionLengthBytesMax)}
				d.unique(seen, pm, "product", pr.Key)
				c.Products = append(c.Products, pr)
			}
		})
		d.notEmpty(n, path, len(c.Products), "at least one product")
	}

	c.Entitlements = []Entitlement{}
	if n, path := m.at("entitlements"); n != nil {
		d.markBroken("entitlements", n)
		seen := map[string]int{}
		d.sequence(n, path, EntitlementsMax, "EntitlementsMax", func(_ int, item *yaml.Node, p string) {
			if em, ok := d.fields(item, p, []string{"key", "name", "description", "type"}, "key", "name", "type"); ok {
				e := Entitlement{Key: d.key(em, "key"), Name: d.text(em, "name", NameLengthBytesMax),
					Description: d.text(em, "description", DescriptionLengthBytesMax),
					Type:        d.enum(em, "type", EntitlementQuantity, EntitlementFlag)}
				d.unique(seen, em, "entitlement", e.Key)
				c.Entitlements = append(c.Entitlements, e)
			}
		})
	}

	c.ProviderCosts = ProviderCosts{MarkupPercent: "0", LLM: []LLMCost{}, Voice: []VoiceCost{}}
	if n, path := m.at("provider_costs"); n != nil {
		d.providerCosts(n, path, &c.ProviderCosts)
	}

	c.Meters = []Meter{}
	if n, path := m.at("meters"); n != nil {
		d.markBroken("meters", n)
		seen := map[string]int{}
		d.sequence(n, path, MetersMax, "MetersMax", func(_ int, item *yaml.Node, p string) {
			if mm, ok := d.fields(item, p, []string{"key", "name", "description", "unit", "event_types",
				"aggregation", "field", "fields", "block_minutes", "idle_timeout_minutes", "start_types",
				"end_types", "heartbeat_timeout_minutes", "filters", "group_by", "cost_table"},
				"key", "name", "unit", "event_types", "aggregation"); ok {
				mt := d.meter(mm, c)
				d.unique(seen, mm, "meter", mt.Key)
				c.Meters = append(c.Meters, mt)
			}
		})
	}

	c.Plans = []Plan{}
	if n, path := m.at("plans"); n != nil {
		d.markBroken("plans", n)
		seen := map[string]int{}
		d.sequence(n, path, PlansMax, "PlansMax", func(_ int, item *yaml.Node, p string) {
			if pm, ok := d.fields(item, p, []string{"key", "name", "description", "account_types", "products",
				"fees", "trial_days", "included_credits", "allowances", "rates", "seats", "entitlements",
				"limits", "custom_pricing"}, "key", "name", "products", "fees"); ok {
				pl := d.plan(pm, c)
				d.unique(seen, pm, "plan", pl.Key)
				c.Plans = append(c.Plans, pl)
			}
		})
		d.notEmpty(n, path, len(c.Plans), "at least one plan")
	}

	c.AddOns = []AddOn{}
	if n, path := m.at("add_ons"); n != nil {
		seen := map[string]int{}
		d.sequence(n, path, AddOnsMax, "AddOnsMax", func(_ int, item *yaml.Node, p string) {
			if am, ok := d.fields(item, p, []string{"key", "name", "description", "fees", "entitlements",
				"max_quantity", "plans", "products"}, "key", "name", "fees"); ok {
				a := d.addOn(am, c)
				d.unique(seen, am, "add-on", a.Key)
				c.AddOns = append(c.AddOns, a)
			}
		})
	}
	return c
}

// version reports a file of another format version, and then nothing else: another
// version has other fields, and listing them all as unknown would bury the one problem.
func (d *decoder) version(root *yaml.Node) bool {
	if root.Kind != yaml.MappingNode {
		return true // reported by fields
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Value != "billow_catalog" || v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
			continue
		}
		if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil && n != FormatVersion {
			d.addf(v, "billow_catalog", "format version %d is not supported; this Billow reads version %d", n, FormatVersion)
			return false
		}
	}
	return true
}

// markBroken marks a section whose shape is wrong (not a list): references into it are
// not checked, since every one of them would be reported as unknown.
func (d *decoder) markBroken(section string, n *yaml.Node) {
	if deref(n).Kind != yaml.SequenceNode {
		d.broken[section] = true
	}
}

// known reports whether key names an item of section, or whether that cannot be told.
func known[T any](d *decoder, find func(string) (*T, bool), section, key string) bool {
	_, ok := find(key)
	return ok || d.unchecked(section)
}

// unchecked reports whether references into section cannot be checked because the
// section's shape is wrong.
func (d *decoder) unchecked(section string) bool {
	return d.broken[section]
}

// unique reports a key already used by an earlier item of the same list.
func (d *decoder) unique(seen map[string]int, m *mapping, what, key string) {
	n, path := m.at("key")
	if key == "" {
		return
	}
	if line, dup := seen[key]; dup {
		d.addf(n, path, "duplicate %s key %q (first defined at line %d)", what, key, line)
		return
	}
	seen[key] = n.Line
}

// notEmpty reports an empty list that must have items.
func (d *decoder) notEmpty(n *yaml.Node, path string, count int, want string) {
	if n = deref(n); count == 0 && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.add(n, path, "must list "+want)
	}
}

// currencyOf decodes the ISO 4217 currency and sets the precision amounts are checked to.
func (d *decoder) currencyOf(m *mapping) (string, int64) {
	n, path := m.at("currency")
	if n == nil || !d.scalar(n, path, "an ISO 4217 currency code") {
		return "", 0
	}
	s := n.Value
	unit, err := currency.ParseISO(s)
	// ParseISO accepts any letter case and XXX ("no currency"); a catalog names a real
	// currency, in the canonical upper case that invoices and the API show.
	if err != nil || unit.String() != s || s == "XXX" {
		d.addf(n, path, "must be an ISO 4217 currency code in upper case, such as USD (%q given)", s)
		return "", 0
	}

	scale, _ := currency.Standard.Rounding(unit)
	d.currency, d.digits = s, scale
	return s, int64(scale)
}

func (d *decoder) credits(m *mapping) Credits {
	cr := Credits{PerCurrencyUnit: defaultPerCurrencyUnit, PackagesCredits: []int64{}}
	if m == nil {
		cr.PurchaseMinCredits = cr.PerCurrencyUnit
		cr.PurchaseMaxCredits = cr.PerCurrencyUnit * defaultPurchaseMaxUnits
		return cr
	}
	if v, ok := d.integer(m, "per_currency_unit", 1, PerCurrencyUnitMax); ok {
		cr.PerCurrencyUnit = v
	}
	cr.GraceBufferCredits, _ = d.integer(m, "grace_buffer_credits", 0, CreditsMax)
	cr.PurchaseMinCredits = cr.PerCurrencyUnit
	if v, ok := d.integer(m, "purchase_min_credits", 1, CreditsMax); ok {
		cr.PurchaseMinCredits = v
	}
	cr.PurchaseMaxCredits = cr.PerCurrencyUnit * defaultPurchaseMaxUnits
	if v, ok := d.integer(m, "purchase_max_credits", 1, CreditsMax); ok {
		cr.PurchaseMaxCredits = v
	}
	if cr.PurchaseMinCredits > cr.PurchaseMaxCredits {
		n, path := m.at("purchase_max_credits")
		if n == nil {
			n, path = m.at("purchase_min_credits")
		}
		d.addf(n, path, "purchase_min_credits (%d) is above purchase_max_credits (%d)", cr.PurchaseMinCredits, cr.PurchaseMaxCredits)
	}
	if n, path := m.at("packages_credits"); n != nil {
		d.sequence(n, path, CreditPackagesMax, "CreditPackagesMax", func(_ int, item *yaml.Node, p string) {
			v, ok := d.integerNode(item, p, 1, CreditsMax)
			if !ok {
				return
			}
			switch last := len(cr.PackagesCredits) - 1; {
			case last >= 0 && v <= cr.PackagesCredits[last]:
				d.addf(item, p, "packages must be in increasing order (%d follows %d)", v, cr.PackagesCredits[last])
			case v < cr.PurchaseMinCredits || v > cr.PurchaseMaxCredits:
				d.addf(item, p, "%d credits is outside purchase_min_credits..purchase_max_credits (%d..%d)", v, cr.PurchaseMinCredits, cr.PurchaseMaxCredits)
			case d.digits >= 0 && !wholeMinorUnits(v, cr.PerCurrencyUnit, d.digits):
				d.addf(item, p, "%d credits would cost a fraction of a minor unit of %s at %d credits per unit", v, d.currency, cr.PerCurrencyUnit)
			default:
				cr.PackagesCredits = append(cr.PackagesCredits, v)
			}
		})
	}
	return cr
}

// billing decodes the dunning and payment terms. Retry days count from the failed
// renewal and strictly increase; the grace period must cover the last retry, so that no
// retry falls on a suspended account.
func (d *decoder) billing(m *mapping) Billing {
	b := Billing{RetryDays: slices.Clone(defaultRetryDays), GracePeriodDays: defaultGracePeriodDays,
		PaymentTermsDays: defaultPaymentTermsDays}
	if m == nil {
		return b
	}
	if n, path := m.at("retry_days"); n != nil {
		b.RetryDays = []int64{}
		d.sequence(n, path, RetriesMax, "RetriesMax", func(_ int, item *yaml.Node, p string) {
			v, ok := d.integerNode(item, p, 1, GracePeriodDaysMax)
			if !ok {
				return
			}
			if last := len(b.RetryDays) - 1; last >= 0 && v <= b.RetryDays[last] {
				d.addf(item, p, "retry days must increase (%d follows %d)", v, b.RetryDays[last])
				return
			}
			b.RetryDays = append(b.RetryDays, v)
		})
	}
	if v, ok := d.integer(m, "grace_period_days", 0, GracePeriodDaysMax); ok {
		b.GracePeriodDays = v
	}
	if last := len(b.RetryDays) - 1; last >= 0 && b.RetryDays[last] > b.GracePeriodDays {
		n, path := m.at("grace_period_days")
		if n == nil {
			n, path = m.at("retry_days")
		}
		d.addf(n, path, "the last retry (day %d) is after the grace period (%d days)", b.RetryDays[last], b.GracePeriodDays)
	}
	if v, ok := d.integer(m, "payment_terms_days", 0, GracePeriodDaysMax); ok {
		b.PaymentTermsDays = v
	}
	return b
}

// wholeMinorUnits reports whether credits cost a whole number of minor units. Both
// factors are bounded (CreditsMax, at most 4 currency digits), so the product fits.
func wholeMinorUnits(credits, perCurrencyUnit int64, digits int) bool {
	scaled := credits
	for range digits {
		scaled *= 10
	}
	return scaled%perCurrencyUnit == 0
}

func (d *decoder) providerCosts(n *yaml.Node, path string, pc *ProviderCosts) {
	m, ok := d.fields(n, path, []string{"markup_percent", "llm", "voice"})
	if !ok {
		return
	}
	if v := d.percent(m, "markup_percent", MarkupPercentMax); v != "" {
		pc.MarkupPercent = v
	}
	if n, path := m.at("llm"); n != nil {
		seen := map[string]int{}
		d.sequence(n, path, ProviderCostRowsMax, "ProviderCostRowsMax", func(_ int, item *yaml.Node, p string) {
			rm, ok := d.fields(item, p, []string{"provider", "model", "input_per_million", "output_per_million"},
				"provider", "model", "input_per_million", "output_per_million")
			if !ok {
				return
			}
			row := LLMCost{Provider: d.identifier(rm, "provider"), Model: d.identifier(rm, "model"),
				InputPerMillion: d.rate(rm, "input_per_million"), OutputPerMillion: d.rate(rm, "output_per_million")}
			if row.Provider != "" && row.Model != "" {
				pair := row.Provider + "\x00" + row.Model
				if line, dup := seen[pair]; dup {
					mn, mp := rm.at("model")
					d.addf(mn, mp, "duplicate cost of %s %s (first at line %d)", row.Provider, row.Model, line)
				} else {
					seen[pair] = item.Line
				}
			}
			pc.LLM = append(pc.LLM, row)
		})
	}
	if n, path := m.at("voice"); n != nil {
		seen := map[string]int{}
		d.sequence(n, path, ProviderCostRowsMax, "ProviderCostRowsMax", func(_ int, item *yaml.Node, p string) {
			rm, ok := d.fields(item, p, []string{"provider", "kind", "per_minute"}, "provider", "kind", "per_minute")
			if !ok {
				return
			}
			row := VoiceCost{Provider: d.identifier(rm, "provider"), Kind: d.enum(rm, "kind", fieldValues("kind")...),
				PerMinute: d.rate(rm, "per_minute")}
			if row.Provider != "" && row.Kind != "" {
				pair := row.Provider + "\x00" + row.Kind
				if line, dup := seen[pair]; dup {
					kn, kp := rm.at("kind")
					d.addf(kn, kp, "duplicate cost of %s %s (first at line %d)", row.Provider, row.Kind, line)
				} else {
					seen[pair] = item.Line
				}
			}
			pc.Voice = append(pc.Voice, row)
		})
	}
}

// identifier decodes a provider or model name as events carry it ("gpt-4o",
// "claude-3-5-sonnet"): printable, without spaces.
func (d *decoder) identifier(m *mapping, key string) string {
	n, path := m.at(key)
	if n == nil || !d.scalar(n, path, "a name") {
		return ""
	}
	s := n.Value
	if s == "" || len(s) > NameLengthBytesMax || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7F || r == 0x85 || r == 0xA0 }) {
		d.addf(n, path, "must be 1 to %d bytes without spaces (%q given)", NameLengthBytesMax, s)
		return ""
	}
	return s
}

// aggregationFields returns the aggregation-specific fields an aggregation takes.
func aggregationFields(aggregation string) []string {
	switch aggregation {
	case AggregationSum:
		return []string{"field", "fields"}
	case AggregationMin, AggregationMax, AggregationLatest, AggregationUniqueCount:
		return []string{"field"}
	case AggregationSessions:
		return []string{"block_minutes", "idle_timeout_minutes"}
	case AggregationConcurrency:
		return []string{"field", "start_types", "end_types", "heartbeat_timeout_minutes"}
	case AggregationProviderCost:
		return []string{"cost_table"}
	}
	return nil
}

func (d *decoder) meter(m *mapping, c *Catalog) Meter {
	mt := Meter{Key: d.key(m, "key"), Name: d.text(m, "name", NameLengthBytesMax),
		Description: d.text(m, "description", DescriptionLengthBytesMax), Unit: d.text(m, "unit", UnitLengthBytesMax)}
	mt.EventTypes = d.eventTypes(m, "event_types", nil)
	mt.Aggregation = d.enum(m, "aggregation", AggregationCount, AggregationSum, AggregationMin, AggregationMax,
		AggregationUniqueCount, AggregationLatest, AggregationSessions, AggregationConcurrency, AggregationProviderCost)
	if mt.Aggregation != "" {
		own := aggregationFields(mt.Aggregation)
		for _, k := range []string{"field", "fields", "block_minutes", "idle_timeout_minutes", "start_types",
			"end_types", "heartbeat_timeout_minutes", "cost_table"} {
			if kn := m.keys[k]; kn != nil && !slices.Contains(own, k) {
				d.addf(kn, join(m.path, k), "not allowed when aggregation is %s", mt.Aggregation)
			}
		}
	}

	switch mt.Aggregation {
	case AggregationSum:
		switch {
		case m.has("field") && m.has("fields"):
			n, path := m.at("fields")
			d.add(n, path, "give field or fields, not both")
		case m.has("field"):
			if f := d.dataField(m, "field", &mt, true); f != "" {
				mt.Fields = []string{f}
			}
		case m.has("fields"):
			n, path := m.at("fields")
			mt.Fields = d.keyList(m, "fields", FieldsPerMeterMax, "FieldsPerMeterMax", func(f string, n *yaml.Node, p string) {
				d.checkDataField(&mt, f, n, p, true)
			})
			d.notEmpty(n, path, len(mt.Fields), "at least one numeric data field")
		default:
			d.addf(m.node, join(m.path, "field"), "is required when aggregation is sum (or fields, to add up several)")
		}
	case AggregationMin, AggregationMax, AggregationLatest:
		d.require(m, "field", mt.Aggregation)
		mt.Field = d.dataField(m, "field", &mt, true)
	case AggregationUniqueCount:
		d.require(m, "field", mt.Aggregation)
		mt.Field = d.dataField(m, "field", &mt, false)
	case AggregationSessions:
		mt.BlockMinutes, mt.IdleTimeoutMinutes = defaultBlockMinutes, defaultIdleTimeoutMinutes
		if v, ok := d.integer(m, "block_minutes", 1, BlockMinutesMax); ok {
			mt.BlockMinutes = v
		}
		if v, ok := d.integer(m, "idle_timeout_minutes", 1, IdleTimeoutMinutesMax); ok {
			mt.IdleTimeoutMinutes = v
		}
	case AggregationConcurrency:
		d.require(m, "field", mt.Aggregation)
		d.require(m, "start_types", mt.Aggregation)
		d.require(m, "end_types", mt.Aggregation)
		mt.Field = d.dataField(m, "field", &mt, false)
		mt.StartTypes = d.eventTypes(m, "start_types", mt.EventTypes)
		mt.EndTypes = d.eventTypes(m, "end_types", mt.EventTypes)
		if n, path := m.at("end_types"); n != nil && deref(n).Kind == yaml.SequenceNode {
			for i, et := range capped(deref(n).Content, EventTypesPerMeterMax) {
				if et = deref(et); slices.Contains(mt.StartTypes, et.Value) && slices.Contains(mt.EndTypes, et.Value) {
					d.addf(et, index(path, i), "%s is also a start type; an event either opens or closes an interval", et.Value)
				}
			}
		}
		if n, path := m.at("event_types"); n != nil && deref(n).Kind == yaml.SequenceNode && len(mt.StartTypes) > 0 && len(mt.EndTypes) > 0 {
			for i, et := range capped(deref(n).Content, EventTypesPerMeterMax) {
				et = deref(et)
				if slices.Contains(mt.EventTypes, et.Value) && !slices.Contains(mt.StartTypes, et.Value) && !slices.Contains(mt.EndTypes, et.Value) {
					d.addf(et, index(path, i), "%s is neither a start type nor an end type of this concurrency meter", et.Value)
				}
			}
		}
		mt.HeartbeatTimeoutMinutes = defaultHeartbeatTimeoutMinutes
		if v, ok := d.integer(m, "heartbeat_timeout_minutes", 1, HeartbeatTimeoutMinutesMax); ok {
			mt.HeartbeatTimeoutMinutes = v
		}
	case AggregationProviderCost:
		d.require(m, "cost_table", mt.Aggregation)
		mt.CostTable = d.enum(m, "cost_table", CostTableLLM, CostTableVoice)
		n, path := m.at("cost_table")
		switch {
		case mt.CostTable == CostTableVoice:
			// voice.interaction names no provider, so no event can be priced from the table;
			// it feeds the pricing calculator's estimates.
			d.addf(n, path, "a meter cannot price events from provider_costs.voice (voice.interaction names no provider); meter voice seconds with a sum and give them a rate")
		case mt.CostTable == CostTableLLM && len(c.ProviderCosts.LLM) == 0:
			d.addf(n, path, "provider_costs.llm has no rows to price events with")
		}
		if et, etPath := m.at("event_types"); mt.CostTable == CostTableLLM && len(mt.EventTypes) > 0 && !slices.Equal(mt.EventTypes, []string{"llm.usage"}) {
			// The cost table prices what llm.usage carries; any other type's tokens are the
			// platform's own fields, which the engine does not read as tokens.
			d.addf(et, etPath, "a provider_cost meter over the llm table meters llm.usage only")
		}
	}

	var filters []entry
	mt.Filters, filters = d.filterMap(m, "filters")
	for _, e := range filters {
		d.checkFilter(&mt, e.key.Value, e.value.Value, e, true)
	}
	mt.GroupBy = d.keyList(m, "group_by", GroupByMax, "GroupByMax", func(f string, n *yaml.Node, p string) {
		d.checkDataField(&mt, f, n, p, false)
	})
	return mt
}

// capped returns at most the first max items, the ones sequence decodes.
func capped(items []*yaml.Node, max int) []*yaml.Node {
	return items[:min(len(items), max)]
}

// require reports a field an aggregation needs.
func (d *decoder) require(m *mapping, key, aggregation string) {
	if !m.has(key) {
		d.addf(m.node, join(m.path, key), "is required when aggregation is %s", aggregation)
	}
}

// eventTypes decodes a list of distinct event types; within, when not nil, is the list
// they must be taken from.
func (d *decoder) eventTypes(m *mapping, key string, within []string) []string {
	n, path := m.at(key)
	if n == nil {
		return nil
	}
	var types []string
	seen := map[string]int{}
	d.sequence(n, path, EventTypesPerMeterMax, "EventTypesPerMeterMax", func(_ int, item *yaml.Node, p string) {
		et := d.eventTypeNode(item, p)
		switch line, dup := seen[et]; {
		case et == "":
		case dup:
			d.addf(item, p, "%s is listed twice (first at line %d)", et, line)
		case within != nil && !slices.Contains(within, et):
			d.addf(item, p, "%s must also be listed in event_types", et)
		default:
			seen[et] = item.Line
			types = append(types, et)
		}
	})
	d.notEmpty(n, path, len(types), "at least one event type")
	return types
}

// dataField decodes the name of a data field the meter reads and checks it against the
// vocabulary of the meter's event types.
func (d *decoder) dataField(m *mapping, key string, mt *Meter, numeric bool) string {
	n, path := m.at(key)
	if n == nil {
		return ""
	}
	f := d.keyNode(n, path)
	if f != "" && !d.checkDataField(mt, f, n, path, numeric) {
		return ""
	}
	return f
}

// checkDataField reports a field that a built-in event type of the meter does not carry,
// or that is not a number where the aggregation adds or compares values.
func (d *decoder) checkDataField(mt *Meter, field string, n *yaml.Node, path string, numeric bool) bool {
	anyBuiltin := false
	for _, et := range mt.EventTypes {
		fields, builtin := builtinFields(et)
		anyBuiltin = anyBuiltin || builtin
		if !availableField(et, field) {
			d.addf(n, path, "event type %s has no data field %q (it has: %s)", et, field, strings.Join(fields, ", "))
			return false
		}
	}
	if numeric && anyBuiltin && !numericField(field) {
		d.addf(n, path, "%q is not a numeric data field; %s needs one (seconds, bytes, input_tokens, output_tokens)", field, mt.Aggregation)
		return false
	}
	return true
}

// checkFilter reports a filter on a field the meter's events lack, or on a value a
// built-in enumerated field never takes (the filter could never match). Rates and seats
// may only filter on what the meter groups by: a group is what they price.
func (d *decoder) checkFilter(mt *Meter, field, value string, e entry, onMeter bool) {
	if !onMeter && field != "app" && !slices.Contains(mt.GroupBy, field) {
		d.addf(e.key, e.path, "meter %s is not grouped by %q; filter on app or on one of its group_by fields (%s)", mt.Key, field, strings.Join(mt.GroupBy, ", "))
		return
	}
	if onMeter && !d.checkDataField(mt, field, e.key, e.path, false) {
		return
	}
	allBuiltin := len(mt.EventTypes) > 0
	for _, et := range mt.EventTypes {
		_, builtin := builtinFields(et)
		allBuiltin = allBuiltin && builtin
	}
	if values := fieldValues(field); allBuiltin && values != nil && !slices.Contains(values, value) {
		d.addf(e.value, e.path, "%q never matches: %s is one of %s", value, field, strings.Join(values, ", "))
	}
}

// fees decodes {month: "20.00", year: "216.00"}: at least one interval.
func (d *decoder) fees(m *mapping) []Fee {
	n, path := m.at("fees")
	if n == nil {
		return []Fee{}
	}
	fm, ok := d.fields(n, path, []string{IntervalMonth, IntervalYear})
	if !ok {
		return []Fee{}
	}
	fees := []Fee{}
	for _, interval := range []string{IntervalMonth, IntervalYear} {
		if text, minor, ok := d.amount(fm, interval); ok {
			fees = append(fees, Fee{Interval: interval, Amount: text, AmountMinorUnits: minor})
		}
	}
	if !fm.has(IntervalMonth) && !fm.has(IntervalYear) {
		d.add(fm.node, path, "must give a fee for month, year or both (\"0.00\" for a free plan)")
	}
	return fees
}

// charge is a rate or seat price of a plan, collected to find charges that overlap.
type charge struct {
	meter   string
	filters map[string]string
	node    *yaml.Node
	path    string
}

// charges are the prices of one plan: all of them, for allowances, and those decoded
// without a problem, for overlaps (comparing a broken price would only repeat its problem).
type charges struct {
	all, valid []charge
}

func (cs *charges) add(meter string, filters map[string]string, node *yaml.Node, path string, valid bool) {
	if meter == "" {
		return
	}
	ch := charge{meter: meter, filters: filters, node: node, path: path}
	cs.all = append(cs.all, ch)
	if valid {
		cs.valid = append(cs.valid, ch)
	}
}

func (d *decoder) plan(m *mapping, c *Catalog) Plan {
	p := Plan{Key: d.key(m, "key"), Name: d.text(m, "name", NameLengthBytesMax),
		Description: d.text(m, "description", DescriptionLengthBytesMax)}
	p.AccountTypes = d.keyList(m, "account_types", 2, "two account types", func(k string, n *yaml.Node, path string) {
		if k != AccountStandard && k != AccountEnterprise {
			d.addf(n, path, "must be %s or %s (%q given)", AccountStandard, AccountEnterprise, k)
		}
	})
	if !m.has("account_types") {
		p.AccountTypes = []string{AccountStandard}
	} else if n, path := m.at("account_types"); len(p.AccountTypes) == 0 {
		d.notEmpty(n, path, 0, "at least one account type")
	}
	p.Products = d.keyList(m, "products", ProductsMax, "ProductsMax", func(k string, n *yaml.Node, path string) {
		if !known(d, c.Product, "products", k) {
			d.addf(n, path, "unknown product %q", k)
		}
	})
	if n, path := m.at("products"); n != nil {
		d.notEmpty(n, path, len(p.Products), "at least one product")
	}
	p.Fees = d.fees(m)
	p.TrialDays, _ = d.integer(m, "trial_days", 0, TrialDaysMax)
	p.CustomPricing = d.boolean(m, "custom_pricing")
	p.IncludedCredits = d.includedCredits(m)

	var cs charges
	p.Rates = d.rates(m, c, &cs)
	p.Seats = d.seats(m, c, p.Products, &cs)
	d.checkOverlaps(cs.valid)
	p.Allowances = d.allowances(m, c, cs.all)
	p.Entitlements = d.grants(m, c, false)
	p.Limits = d.limits(m, c)
	return p
}

func (d *decoder) includedCredits(m *mapping) *IncludedCredits {
	n, path := m.at("included_credits")
	if n == nil {
		return nil
	}
	im, ok := d.fields(n, path, []string{"credits", "refresh"}, "credits")
	if !ok {
		return nil
	}
	ic := &IncludedCredits{Refresh: RefreshCycle}
	ic.Credits, _ = d.integer(im, "credits", 1, CreditsMax)
	if v := d.enum(im, "refresh", RefreshCycle, RefreshMonth); v != "" {
		ic.Refresh = v
	}
	return ic
}

func (d *decoder) rates(m *mapping, c *Catalog, cs *charges) []Rate {
	n, path := m.at("rates")
	if n == nil {
		return nil
	}
	var rates []Rate
	d.sequence(n, path, RatesPerPlanMax, "RatesPerPlanMax", func(_ int, item *yaml.Node, p string) {
		rm, ok := d.fields(item, p, []string{"meter", "model", "unit_price", "tiers", "package",
			"minimum", "filters", "billed_in"}, "meter", "model")
		if !ok {
			return
		}
		before := d.found
		r := d.rateOf(rm, c)
		cs.add(r.Meter, r.Filters, item, p, d.found == before)
		rates = append(rates, r)
	})
	return rates
}

func (d *decoder) seats(m *mapping, c *Catalog, products []string, cs *charges) []Seat {
	n, path := m.at("seats")
	if n == nil {
		return nil
	}
	var seats []Seat
	seen := map[string]int{}
	d.sequence(n, path, SeatsPerPlanMax, "SeatsPerPlanMax", func(_ int, item *yaml.Node, p string) {
		sm, ok := d.fields(item, p, []string{"product", "named", "concurrent"}, "product")
		if !ok {
			return
		}
		s := Seat{Product: d.key(sm, "product")}
		if s.Product != "" {
			pn, pp := sm.at("product")
			switch line, dup := seen[s.Product]; {
			case dup:
				d.addf(pn, pp, "seats of %s are already priced at line %d", s.Product, line)
			case !slices.Contains(products, s.Product) && !d.unchecked("products"):
				d.addf(pn, pp, "%q is not one of this plan's products", s.Product)
			default:
				seen[s.Product] = pn.Line
			}
		}
		if !sm.has("named") && !sm.has("concurrent") {
			d.add(sm.node, p, "must price named seats, concurrent seats or both")
		}
		before := d.found
		s.Named = d.seatPrice(sm, "named", AggregationUniqueCount, c)
		s.Concurrent = d.seatPrice(sm, "concurrent", AggregationConcurrency, c)
		for _, sp := range []*SeatPrice{s.Named, s.Concurrent} {
			if sp != nil {
				cs.add(sp.Meter, sp.Filters, item, p, d.found == before)
			}
		}
		seats = append(seats, s)
	})
	return seats
}

// allowances decodes {meter: quantity}. An allowance reduces the one price of its meter;
// with none there is nothing to reduce, with several it is unclear which one it reduces.
func (d *decoder) allowances(m *mapping, c *Catalog, all []charge) map[string]int64 {
	n, path := m.at("allowances")
	if n == nil {
		return nil
	}
	allowances := map[string]int64{}
	for _, e := range d.entries(n, path, MetersMax, "MetersMax") {
		meter := e.key.Value
		if _, ok := c.Meter(meter); !ok {
			if !d.unchecked("meters") {
				d.addf(e.key, e.path, "unknown meter %q", meter)
			}
			continue
		}
		switch count := countCharges(all, meter); {
		case count == 0:
			d.addf(e.key, e.path, "the plan has no rate or seat price on meter %s for an allowance to reduce", meter)
		case count > 1:
			d.addf(e.key, e.path, "the plan prices meter %s %d times; an allowance would be ambiguous", meter, count)
		}
		if v, ok := d.integerNode(e.value, e.path, 0, QuantityMax); ok {
			allowances[meter] = v
		}
	}
	return allowances
}

// limits decodes {meter: {limit, allowance_percent, period}}, sorted by meter.
func (d *decoder) limits(m *mapping, c *Catalog) []Limit {
	n, path := m.at("limits")
	if n == nil {
		return nil
	}
	var limits []Limit
	for _, e := range d.entries(n, path, LimitsPerPlanMax, "LimitsPerPlanMax") {
		meter := e.key.Value
		if !known(d, c.Meter, "meters", meter) {
			d.addf(e.key, e.path, "unknown meter %q", meter)
		}
		lm, ok := d.fields(e.value, e.path, []string{"limit", "allowance_percent", "period"}, "limit", "period")
		if !ok {
			continue
		}
		l := Limit{Meter: meter, Period: d.enum(lm, "period", PeriodMonth, PeriodTotal),
			AllowancePercent: d.percent(lm, "allowance_percent", 100)}
		l.Limit, _ = d.integer(lm, "limit", 1, QuantityMax)
		l.HardLimit = HardLimit(l.Limit, l.AllowancePercent)
		limits = append(limits, l)
	}
	sort.Slice(limits, func(i, j int) bool { return limits[i].Meter < limits[j].Meter })
	return limits
}

func countCharges(charges []charge, meter string) int {
	n := 0
	for _, ch := range charges {
		if ch.meter == meter {
			n++
		}
	}
	return n
}

// checkOverlaps reports two charges of a plan that could price the same usage twice.
// Several charges on one meter must each filter on the same fields, with different
// values, so that every group of the meter has at most one price.
func (d *decoder) checkOverlaps(charges []charge) {
	for i, ch := range charges {
		for _, prev := range charges[:i] {
			if prev.meter != ch.meter {
				continue
			}
			switch {
			case len(prev.filters) == 0 || len(ch.filters) == 0:
				d.addf(ch.node, ch.path, "overlaps the price of meter %s at line %d: several prices on one meter must each have filters", ch.meter, prev.node.Line)
			case !sameKeys(prev.filters, ch.filters):
				d.addf(ch.node, ch.path, "filters on other fields than the price of meter %s at line %d, so both could price the same usage", ch.meter, prev.node.Line)
			case maps.Equal(prev.filters, ch.filters):
				d.addf(ch.node, ch.path, "prices the same usage of meter %s as line %d", ch.meter, prev.node.Line)
			default:
				continue
			}
			break
		}
	}
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// meterRef decodes a reference to a meter.
func (d *decoder) meterRef(m *mapping, c *Catalog) (string, *Meter) {
	key := d.key(m, "meter")
	if key == "" {
		return "", nil
	}
	mt, ok := c.Meter(key)
	if !ok {
		if d.unchecked("meters") {
			return key, nil
		}
		n, path := m.at("meter")
		d.addf(n, path, "unknown meter %q", key)
		return key, nil
	}
	return key, mt
}

// priceFilters decodes the filters of a rate or seat price and checks them against its meter.
func (d *decoder) priceFilters(m *mapping, mt *Meter) map[string]string {
	filters, valid := d.filterMap(m, "filters")
	if mt != nil {
		for _, e := range valid {
			d.checkFilter(mt, e.key.Value, e.value.Value, e, false)
		}
	}
	return filters
}

func (d *decoder) billedIn(m *mapping) string {
	if v := d.enum(m, "billed_in", BilledInCurrency, BilledInCredits); v != "" {
		return v
	}
	return BilledInCurrency
}

func (d *decoder) rateOf(m *mapping, c *Catalog) Rate {
	var r Rate
	var mt *Meter
	r.Meter, mt = d.meterRef(m, c)
	r.Model = d.enum(m, "model", ModelPerUnit, ModelGraduated, ModelVolume, ModelPackage)
	switch r.Model {
	case ModelPerUnit:
		d.requireFor(m, "unit_price", "model", r.Model)
		d.notAllowed(m, "when model is per_unit", "tiers", "package")
		r.UnitPrice = d.rate(m, "unit_price")
	case ModelGraduated, ModelVolume:
		d.requireFor(m, "tiers", "model", r.Model)
		d.notAllowed(m, "when model is "+r.Model+" (each tier has its unit_price)", "unit_price", "package")
		r.Tiers = d.tiers(m)
	case ModelPackage:
		d.requireFor(m, "package", "model", r.Model)
		d.notAllowed(m, "when model is package", "unit_price", "tiers")
		if n, path := m.at("package"); n != nil {
			if pm, ok := d.fields(n, path, []string{"size", "price"}, "size", "price"); ok {
				pk := &Package{Price: d.rate(pm, "price")}
				pk.Size, _ = d.integer(pm, "size", 1, QuantityMax)
				r.Package = pk
			}
		}
	}
	r.Minimum, r.MinimumMinorUnits, _ = d.amount(m, "minimum")
	r.Filters = d.priceFilters(m, mt)
	r.BilledIn = d.billedIn(m)
	return r
}

func (d *decoder) requireFor(m *mapping, key, field, value string) {
	if !m.has(key) {
		d.addf(m.node, join(m.path, key), "is required when %s is %s", field, value)
	}
}

// tiers decodes the tiers of a graduated or volume rate: every tier but the last has an
// up_to above the previous one; the last is open-ended, so every quantity has a price.
func (d *decoder) tiers(m *mapping) []Tier {
	n, path := m.at("tiers")
	if n == nil {
		return nil
	}
	var tiers []Tier
	count := len(deref(n).Content)
	var prev int64
	d.sequence(n, path, TiersPerRateMax, "TiersPerRateMax", func(i int, item *yaml.Node, p string) {
		tm, ok := d.fields(item, p, []string{"up_to", "unit_price"}, "unit_price")
		if !ok {
			return
		}
		t := Tier{UnitPrice: d.rate(tm, "unit_price")}
		last := i == count-1 // past TiersPerRateMax no tier is last: the excess is reported instead
		switch un, up := tm.at("up_to"); {
		case last && un != nil:
			d.add(un, up, "the last tier has no up_to: it prices every unit above the previous tier")
		case !last && un == nil:
			d.add(tm.node, up, "is required on every tier but the last")
		case !last:
			if v, ok := d.integerNode(un, up, 1, QuantityMax); ok {
				if v <= prev {
					d.addf(un, up, "must be above the previous tier's up_to (%d); tiers go up strictly", prev)
				}
				t.UpTo, prev = v, v
			}
		}
		tiers = append(tiers, t)
	})
	d.notEmpty(n, path, len(tiers), "at least one tier")
	return tiers
}

func (d *decoder) seatPrice(m *mapping, key, aggregation string, c *Catalog) *SeatPrice {
	n, path := m.at(key)
	if n == nil {
		return nil
	}
	sm, ok := d.fields(n, path, []string{"meter", "unit_price", "filters", "billed_in"}, "meter", "unit_price")
	if !ok {
		return nil
	}
	sp := &SeatPrice{}
	var mt *Meter
	sp.Meter, mt = d.meterRef(sm, c)
	if mt != nil && mt.Aggregation != "" && mt.Aggregation != aggregation {
		mn, mp := sm.at("meter")
		d.addf(mn, mp, "meter %s aggregates by %s; %s seats need a %s meter", mt.Key, mt.Aggregation, key, aggregation)
	}
	sp.UnitPrice = d.rate(sm, "unit_price")
	sp.Filters = d.priceFilters(sm, mt)
	sp.BilledIn = d.billedIn(sm)
	return sp
}

// grants decodes entitlement grants, {agent_slots: 100, byo_api_keys: true}, checking each
// against its declaration. An add-on grants per unit, so its flags can only be true.
func (d *decoder) grants(m *mapping, c *Catalog, perUnit bool) []EntitlementValue {
	n, path := m.at("entitlements")
	if n == nil {
		return nil
	}
	var values []EntitlementValue
	for _, e := range d.entries(n, path, EntitlementsMax, "EntitlementsMax") {
		decl, ok := c.Entitlement(e.key.Value)
		if !ok {
			if d.unchecked("entitlements") {
				continue
			}
			d.addf(e.key, e.path, "unknown entitlement %q; declare it under entitlements", e.key.Value)
			continue
		}
		v := EntitlementValue{Key: decl.Key, Type: decl.Type}
		switch decl.Type {
		case EntitlementQuantity:
			if e.value.Kind != yaml.ScalarNode || e.value.Tag != "!!int" {
				d.addf(e.value, e.path, "%s is a quantity entitlement: give a whole number (%s given)", decl.Key, describe(e.value))
				continue
			}
			min := int64(0)
			if perUnit {
				min = 1
			}
			q, ok := d.integerNode(e.value, e.path, min, QuantityMax)
			if !ok {
				continue
			}
			v.Quantity = q
		case EntitlementFlag:
			if e.value.Kind != yaml.ScalarNode || e.value.Tag != "!!bool" {
				d.addf(e.value, e.path, "%s is a flag entitlement: give true or false (%s given)", decl.Key, describe(e.value))
				continue
			}
			v.Enabled = d.booleanNode(e.value, e.path)
			if perUnit && !v.Enabled {
				d.addf(e.value, e.path, "an add-on can only turn %s on; leave it out instead", decl.Key)
				continue
			}
		default:
			continue // the declaration's type is invalid and already reported
		}
		values = append(values, v)
	}
	sort.Slice(values, func(i, j int) bool { return values[i].Key < values[j].Key })
	return values
}

func (d *decoder) addOn(m *mapping, c *Catalog) AddOn {
	a := AddOn{Key: d.key(m, "key"), Name: d.text(m, "name", NameLengthBytesMax),
		Description: d.text(m, "description", DescriptionLengthBytesMax), MaxQuantity: defaultMaxQuantity}
	a.Fees = d.fees(m)
	a.Entitlements = d.grants(m, c, true)
	if v, ok := d.integer(m, "max_quantity", 1, AddOnQuantityMax); ok {
		a.MaxQuantity = v
	}
	a.Plans = d.keyList(m, "plans", PlansMax, "PlansMax", func(k string, n *yaml.Node, path string) {
		if !known(d, c.Plan, "plans", k) {
			d.addf(n, path, "unknown plan %q", k)
		}
	})
	a.Products = d.keyList(m, "products", ProductsMax, "ProductsMax", func(k string, n *yaml.Node, path string) {
		if !known(d, c.Product, "products", k) {
			d.addf(n, path, "unknown product %q", k)
		}
	})
	return a
}
