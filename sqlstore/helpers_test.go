package sqlstore_test

import (
	"errors"

	"github.com/billowhq/billow/catalog"
)

func errorAsValidation(err error, target **catalog.ValidationError) bool {
	return errors.As(err, target)
}
