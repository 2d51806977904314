package billow

import (
	"strings"
	"time"
)

// App is a bot, AI agent or assistant of an account. Usage and deployment are per app.
// A linked app names its parent app: in dynamic routing the parent hands a conversation
// over to the linked app, and sessions after the hand-over count for the linked app only.
type App struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account"`
	ExternalID string    `json:"external_id"`
	Name       string    `json:"name"`
	ParentApp  string    `json:"parent_app,omitempty" doc:"Id of the parent app when this is a linked app."`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CreateAppInput creates an app. ParentApp is the id or external id of an app of the same
// account; routing is one level deep, so the parent may not itself be a linked app.
type CreateAppInput struct {
	ExternalID string `json:"external_id" maxLength:"255"`
	Name       string `json:"name" maxLength:"200"`
	ParentApp  string `json:"parent_app,omitempty" maxLength:"255" doc:"Id or external id of the parent app, for a linked app."`
}

// Validate reports every invalid field at once.
func (in *CreateAppInput) Validate() error {
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Name = strings.TrimSpace(in.Name)
	in.ParentApp = strings.TrimSpace(in.ParentApp)
	var errs fieldErrors
	validateExternalID(&errs, "external_id", in.ExternalID, PrefixApp)
	validateName(&errs, "name", in.Name, true)
	return errs.err()
}

// UpdateAppInput renames an app. Its parent does not change: usage already attributed
// along the routing would no longer match the apps.
type UpdateAppInput struct {
	Name *string `json:"name,omitempty" maxLength:"200"`
}

// Validate reports every invalid field at once.
func (in *UpdateAppInput) Validate() error {
	var errs fieldErrors
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
		validateName(&errs, "name", *in.Name, true)
	}
	return errs.err()
}
