-- Billed usage keeps the quantities each line was rated from (issue: re-rating a billed
-- month must not bill a new price). A renewal adjusts a month already invoiced only when
-- its quantities changed, by the month rated at today's prices at the new quantities
-- less the same at these (billing/billed.go). JSON of selection key → decimal string,
-- replaced by the latest total on each adjustment; NULL for a row billed before this
-- migration, which a renewal keeps comparing by amount.

-- +goose Up
ALTER TABLE billed_usage ADD COLUMN quantities TEXT;

-- +goose Down
ALTER TABLE billed_usage DROP COLUMN quantities;
