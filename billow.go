// Package billow holds Billow's vocabulary: the domain types (accounts, apps, members,
// API keys), the inputs of every operation with their validation, the typed errors with
// stable codes, and the clock every service reads. It has no dependencies on storage,
// HTTP or any vendor; the subpackages implement and serve it.
package billow

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	// Time zones are validated and used for bucketing everywhere; embedding the database
	// keeps a fresh machine without /usr/share/zoneinfo behaving like any other.
	_ "time/tzdata"
)

// Version is the Billow release, set at build time with -ldflags "-X github.com/billowhq/billow.Version=…".
var Version = "dev"

// Clock is the only source of the current time: services read it so that tests and test
// clocks can move time deterministically.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the machine's clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// ID prefixes: every Billow id starts with its kind, so an id can never be mistaken for a
// platform's external id and a log line says what it names.
const (
	PrefixAccount = "acct_"
	PrefixApp     = "app_"
	PrefixMember  = "mem_"
	PrefixAPIKey  = "key_"
)

// NewID returns a new id of the given prefix: the prefix followed by a lowercase ULID, so
// ids of one kind sort by creation time (cursor pagination relies on it).
func NewID(prefix string, now time.Time) string {
	id := ulid.MustNew(ulid.Timestamp(now), rand.Reader)
	return prefix + strings.ToLower(id.String())
}

// IsID reports whether ref is a Billow id of the given prefix rather than an external id.
func IsID(ref, prefix string) bool {
	return strings.HasPrefix(ref, prefix) && len(ref) == len(prefix)+ulid.EncodedSize
}

// TimeMicros converts a time to the stored form: int64 microseconds since the Unix epoch, UTC.
func TimeMicros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros converts a stored time back to a UTC time.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
