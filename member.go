package billow

import (
	"strings"
	"time"
)

// Role is what a member of an account may do in billing.
type Role string

const (
	RoleOwner     Role = "owner"     // everything, and receives every billing email
	RoleAdmin     Role = "admin"     // manages apps and approves deployments
	RoleBilling   Role = "billing"   // pays, changes the plan, receives invoices
	RoleDeveloper Role = "developer" // reads usage and requests deployments; cannot pay
)

// Roles lists every role, in order of authority.
var Roles = []Role{RoleOwner, RoleAdmin, RoleBilling, RoleDeveloper}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, known := range Roles {
		if r == known {
			return true
		}
	}
	return false
}

// CanPay reports whether the role may pay and change the subscription.
func (r Role) CanPay() bool { return r == RoleOwner || r == RoleBilling }

// Member is a person of an account. The platform owns identity; Billow keeps what billing
// needs: who to email and what they may do in the portal.
type Member struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account"`
	ExternalID string    `json:"external_id,omitempty"`
	Email      string    `json:"email"`
	Name       string    `json:"name,omitempty"`
	Role       Role      `json:"role" enum:"owner,admin,billing,developer"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CreateMemberInput adds a member to an account; the email is unique within the account.
type CreateMemberInput struct {
	ExternalID string `json:"external_id,omitempty" maxLength:"255" doc:"The platform's user id; optional, unique in the account."`
	Email      string `json:"email" maxLength:"254"`
	Name       string `json:"name,omitempty" maxLength:"200"`
	Role       Role   `json:"role" enum:"owner,admin,billing,developer"`
}

// Validate reports every invalid field at once.
func (in *CreateMemberInput) Validate() error {
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.Name = strings.TrimSpace(in.Name)
	var errs fieldErrors
	if in.ExternalID != "" {
		validateExternalID(&errs, "external_id", in.ExternalID, PrefixMember)
	}
	if in.Email == "" {
		errs.add("email", "is required")
	} else {
		validateEmail(&errs, "email", in.Email)
	}
	validateName(&errs, "name", in.Name, false)
	if !in.Role.Valid() {
		errs.add("role", "must be one of owner, admin, billing, developer, not %q", in.Role)
	}
	return errs.err()
}

// UpdateMemberInput changes a member's name or role.
type UpdateMemberInput struct {
	Name *string `json:"name,omitempty" maxLength:"200"`
	Role *Role   `json:"role,omitempty" enum:"owner,admin,billing,developer"`
}

// Validate reports every invalid field at once.
func (in *UpdateMemberInput) Validate() error {
	var errs fieldErrors
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
		validateName(&errs, "name", *in.Name, false)
	}
	if in.Role != nil && !in.Role.Valid() {
		errs.add("role", "must be one of owner, admin, billing, developer, not %q", *in.Role)
	}
	return errs.err()
}
