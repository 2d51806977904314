package billow

// Page limits for every list.
const (
	PageLimitDefault = 20
	PageLimitMax     = 100
)

// PageInput is cursor pagination: newest first, StartingAfter is the last id of the previous page.
type PageInput struct {
	Limit         int
	StartingAfter string
}

// Page is one page of a list.
type Page[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// Normalize clamps the limit into [1, PageLimitMax].
func (p *PageInput) Normalize() {
	if p.Limit <= 0 {
		p.Limit = PageLimitDefault
	}
	if p.Limit > PageLimitMax {
		p.Limit = PageLimitMax
	}
}
