package meter

import "github.com/billowhq/billow/catalog"

// Bounds the engine relies on. Events inside them cannot overflow any arithmetic of the
// package: times plus the longest block, idle timeout or heartbeat stay far inside an
// int64, and so does a time doubled by the concurrency sweep's edge encoding.
const (
	// TimeMicrosMin and TimeMicrosMax bound event times: 0001-01-01T00:00:00Z and
	// 9999-12-31T23:59:59.999999Z, the instants RFC 3339 can write.
	TimeMicrosMin = -62_135_596_800_000_000
	TimeMicrosMax = 253_402_300_799_999_999

	// QuantityPerEventMax bounds each numeric quantity of one event (bytes, tokens, voice
	// milliseconds): 1e15 is a petabyte in one ingestion. A million such values still sum
	// inside the exact accumulators, which spill to decimal rather than overflow.
	QuantityPerEventMax = catalog.QuantityMax

	// FieldsPerEventMax bounds the custom data fields of one event.
	FieldsPerEventMax = 64

	// NumberTextLengthBytesMax bounds the text of a number read from Fields: 64 digits
	// are far more than any real quantity has, and keep decimal arithmetic on them cheap.
	NumberTextLengthBytesMax = 64

	// BucketsMax bounds the buckets of one PeaksPerBucket call: a year of minutes is
	// half of it, a year of hours under 1%.
	BucketsMax = 1_000_000
)

// Units.
const (
	// MicrosPerMinute converts the catalog's minutes to the engine's microseconds.
	MicrosPerMinute = 60_000_000
	// millisPerSecond converts voice milliseconds to the "seconds" data field.
	millisPerSecond = 1000
)

// Bounds of the rules, the catalog's bounds in microseconds.
const (
	BlockMicrosMax            = catalog.BlockMinutesMax * MicrosPerMinute
	IdleTimeoutMicrosMax      = catalog.IdleTimeoutMinutesMax * MicrosPerMinute
	HeartbeatTimeoutMicrosMax = catalog.HeartbeatTimeoutMinutesMax * MicrosPerMinute
)
