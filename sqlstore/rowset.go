package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// rowSetColumn is a column of a rowSet: its name and SQL type (TEXT or BIGINT).
type rowSetColumn struct{ name, typ string }

// rowSet returns a derived table of rows passed as parameters, in statement text that
// does not grow with the rows: on SQLite one JSON parameter read by json_each, on
// PostgreSQL one array per column read by unnest. Parsing a statement of a thousand
// VALUES rows cost more than the work it asked for. Parameters are $from on (one on
// SQLite, one per column on PostgreSQL: the length of the returned arguments); each row
// holds a string or an int64 per column.
func (db *DB) rowSet(from int, cols []rowSetColumn, rows [][]any) (string, []any) {
	if db.dialect == SQLite {
		b, err := json.Marshal(rows)
		if err != nil {
			panic("sqlstore: a row set does not encode: " + err.Error()) // strings and integers always do
		}
		var sel strings.Builder
		for i, c := range cols {
			if i > 0 {
				sel.WriteString(", ")
			}
			fmt.Fprintf(&sel, "value ->> %d AS %s", i, c.name)
		}
		return `(SELECT ` + sel.String() + ` FROM json_each($` + strconv.Itoa(from) + `))`, []any{string(b)}
	}
	args := make([]any, len(cols))
	arrays := make([]string, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		switch c.typ {
		case "BIGINT":
			col := make([]int64, len(rows))
			for r := range rows {
				col[r] = rows[r][i].(int64)
			}
			args[i] = col
		default:
			col := make([]string, len(rows))
			for r := range rows {
				col[r] = rows[r][i].(string)
			}
			args[i] = col
		}
		arrays[i] = "$" + strconv.Itoa(from+i) + "::" + strings.ToLower(c.typ) + "[]"
		names[i] = c.name
	}
	return `(SELECT * FROM unnest(` + strings.Join(arrays, ", ") + `) AS t(` + strings.Join(names, ", ") + `))`, args
}
