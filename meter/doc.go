// Package meter turns usage events into exact quantities: billing sessions of
// conversations and API activity, concurrent intervals and their peaks, the generic
// aggregations of a catalog meter (count, sum, min, max, unique_count, latest), the cost
// of an LLM call in micro-credits, and ingestion quotas.
//
// The package is pure. It does no I/O (no database, no network, no files), reads no clock,
// logs nothing and holds no global state: every function computes its result from its
// arguments alone. The caller supplies the events, the catalog meter and, where a result
// depends on what is still to come, the "now" watermark. Times are int64 microseconds since
// the Unix epoch, UTC, everywhere in the package.
//
// Every result depends only on the set of events given, never on their order or on how
// they were split into batches before being concatenated; the property tests check it.
// Quantities are exact: integers where the values are integers, shopspring/decimal
// otherwise, never a float.
//
// How each meter computes its quantity, with the seed's examples worked through, is
// documented in docs/meters.md.
package meter
