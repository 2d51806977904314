package sqlstore

// ReadHourlyOnly makes usage queries read hourly cells only, or day cells again.
func ReadHourlyOnly(db *DB, on bool) { db.hourlyOnly = on }
