package sqlstore

// ReadHourlyOnly makes usage queries read hourly cells only, or day cells again.
func ReadHourlyOnly(db *DB, on bool) { db.hourlyOnly = on }

// ExecRaw runs a statement on the store's writer, for tests that tamper with rows.
func ExecRaw(db *DB, query string, args ...any) error {
	_, err := db.write.Exec(query, args...)
	return err
}
