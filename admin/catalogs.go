package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// catalogsPage is the content of the catalog page: the catalogs as tabs, and the chosen
// one's products, plans, add-ons, meters and credit rules.
type catalogsPage struct {
	Tabs     []catalogTab
	Key      string
	Name     string
	Version  int64
	Loaded   string
	Currency string
	Credits  []usageRow // rule → value
	Products []usageRow // name → description
	Plans    []planRow
	AddOns   []addOnRow
	Meters   []meterRow
}

type catalogTab struct {
	Key, Name, URL string
	Current        bool
}

type planRow struct {
	Key, Name, AccountTypes, Fees, Trial, Included string
	Rates                                          []string
}

type addOnRow struct {
	Key, Name, Fees, Max, Plans string
}

type meterRow struct {
	Key, Name, Unit, Aggregation string
}

// catalogs shows the stored catalogs, read-only (GET /admin/catalogs?catalog=KEY): each
// catalog's latest version, the first one unless KEY names another. Catalogs change by
// their files (docs/catalog.md), never here.
func (h *Handler) catalogs(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	versions, err := h.store.CatalogVersions(ctx, "")
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page := catalogsPage{}
	l := layout{Title: "Catalog", Section: "catalog", Content: &page}
	if len(versions) == 0 {
		h.render(w, r, http.StatusOK, "catalogs.html", v, l)
		return
	}
	page.Key = r.URL.Query().Get("catalog")
	found := false
	for _, ver := range versions {
		found = found || ver.Catalog == page.Key
	}
	if !found {
		if page.Key != "" {
			h.fail(w, r, v, billow.NotFound("catalog", page.Key))
			return
		}
		page.Key = versions[0].Catalog
	}
	for _, ver := range versions {
		page.Tabs = append(page.Tabs, catalogTab{Key: ver.Catalog, Name: ver.Name, URL: "/admin/catalogs?catalog=" + url.QueryEscape(ver.Catalog),
			Current: ver.Catalog == page.Key})
	}
	cat, ver, err := h.store.Catalog(ctx, page.Key, 0)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page.Name, page.Version, page.Loaded, page.Currency = cat.Name, ver.Version, when(ver.CreatedAt), cat.Currency
	fees := func(fs []catalog.Fee) string {
		var out []string
		for _, f := range fs {
			out = append(out, money(f.AmountMinorUnits, cat.Currency, cat.CurrencyDigits)+" / "+f.Interval)
		}
		if len(out) == 0 {
			return "Free"
		}
		return strings.Join(out, ", ")
	}
	packages := make([]string, len(cat.Credits.PackagesCredits))
	for i, p := range cat.Credits.PackagesCredits {
		packages[i] = groupDigits(itoa64(p))
	}
	page.Credits = []usageRow{
		{"Credits per " + cat.Currency, groupDigits(itoa64(cat.Credits.PerCurrencyUnit))},
		{"Top-up packages", strings.Join(packages, ", ")},
		{"Purchase", groupDigits(itoa64(cat.Credits.PurchaseMinCredits)) + " to " + groupDigits(itoa64(cat.Credits.PurchaseMaxCredits)) + " credits"},
		{"Grace buffer", groupDigits(itoa64(cat.Credits.GraceBufferCredits)) + " credits"},
	}
	for _, p := range cat.Products {
		page.Products = append(page.Products, usageRow{p.Name, p.Description})
	}
	meters := map[string]catalog.Meter{}
	for _, m := range cat.Meters {
		meters[m.Key] = m
		page.Meters = append(page.Meters, meterRow{Key: m.Key, Name: m.Name, Unit: m.Unit, Aggregation: label(m.Aggregation)})
	}
	for _, p := range cat.Plans {
		row := planRow{Key: p.Key, Name: p.Name, AccountTypes: strings.Join(p.AccountTypes, ", "), Fees: fees(p.Fees), Trial: dash, Included: dash}
		if p.CustomPricing {
			row.Fees += " (contract pricing)"
		}
		if p.TrialDays > 0 {
			row.Trial = plural(int(p.TrialDays), "day")
		}
		if p.IncludedCredits != nil {
			row.Included = groupDigits(itoa64(p.IncludedCredits.Credits)) + " credits / " + p.IncludedCredits.Refresh
		}
		for _, rt := range p.Rates {
			row.Rates = append(row.Rates, rateText(rt, meters[rt.Meter], cat.Currency))
		}
		for _, s := range p.Seats {
			product := s.Product
			for _, pr := range cat.Products {
				if pr.Key == s.Product {
					product = pr.Name
				}
			}
			if s.Named != nil {
				row.Rates = append(row.Rates, product+", named seat: "+s.Named.UnitPrice+" "+cat.Currency+" / month")
			}
			if s.Concurrent != nil {
				row.Rates = append(row.Rates, product+", concurrent seat: "+s.Concurrent.UnitPrice+" "+cat.Currency+" / month")
			}
		}
		page.Plans = append(page.Plans, row)
	}
	for _, a := range cat.AddOns {
		plans := strings.Join(a.Plans, ", ")
		if plans == "" {
			plans = "Every plan"
		}
		page.AddOns = append(page.AddOns, addOnRow{Key: a.Key, Name: a.Name, Fees: fees(a.Fees), Max: groupDigits(itoa64(a.MaxQuantity)), Plans: plans})
	}
	h.render(w, r, http.StatusOK, "catalogs.html", v, l)
}

// rateText says what a rate charges in one line: "Billing sessions: 0.05 USD / session".
func rateText(rt catalog.Rate, m catalog.Meter, currency string) string {
	name, unit := m.Name, m.Unit
	if name == "" {
		name = rt.Meter
	}
	if unit == "" || unit == strings.ToUpper(unit) {
		unit = "unit" // a meter in a currency (provider cost) is priced per unit of it
	}
	var price string
	switch rt.Model {
	case catalog.ModelPerUnit:
		price = rt.UnitPrice + " " + currency + " / " + unit
	case catalog.ModelPackage:
		if rt.Package != nil {
			price = rt.Package.Price + " " + currency + " / " + groupDigits(itoa64(rt.Package.Size)) + " " + unit + "s"
		}
	default:
		price = label(rt.Model) + ", " + plural(len(rt.Tiers), "tier")
		if len(rt.Tiers) > 0 {
			price += " from " + rt.Tiers[0].UnitPrice + " " + currency + " / " + unit
		}
	}
	if rt.BilledIn == catalog.BilledInCredits {
		price += ", in credits"
	}
	return name + ": " + price
}
