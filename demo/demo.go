// Package demo loads the demo that `billow serve --demo` shows: accounts on each shipped
// catalog's paid plan and an enterprise account, their apps (a parent app with a linked
// app among them) and members. Loading is idempotent: a restart finds the demo in place.
// Later capabilities add to the demo through Extensions (the metering issue adds usage).
package demo

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/billowhq/billow"
)

// Store is what the demo writes through: the same operations the API uses, so the demo
// data passes the same validation as a platform's.
type Store interface {
	CreateAccount(ctx context.Context, in billow.CreateAccountInput) (*billow.Account, error)
	Account(ctx context.Context, ref string) (*billow.Account, error)
	CreateApp(ctx context.Context, accountID string, in billow.CreateAppInput) (*billow.App, error)
	App(ctx context.Context, accountID, ref string) (*billow.App, error)
	CreateMember(ctx context.Context, accountID string, in billow.CreateMemberInput) (*billow.Member, error)
}

// Data is what the demo created or found, for extensions and for the start-up banner.
type Data struct {
	Accounts []*billow.Account
	Apps     map[string][]*billow.App // by account id
}

// Extension adds to the demo after the accounts exist, for example usage history. It
// must be idempotent like Load.
type Extension func(ctx context.Context, d *Data) error

// AccountSpec describes one demo account.
type AccountSpec struct {
	Account billow.CreateAccountInput
	Apps    []billow.CreateAppInput // a ParentApp refers to an earlier app's external id
	Members []billow.CreateMemberInput
}

// Accounts is the demo: one standard account on each shipped catalog's paid plan, one
// enterprise account, and a free account on the credits catalog.
func Accounts() []AccountSpec {
	contact := func(name, email, city, country string) billow.BillingContact {
		return billow.BillingContact{Name: name, Email: email, Company: name, Address: billow.Address{City: city, Country: country}}
	}
	return []AccountSpec{
		{
			Account: billow.CreateAccountInput{ExternalID: "northwind", Name: "Northwind Traders", Type: billow.AccountStandard,
				Catalog: "ai-for-service", Plan: "advanced", Timezone: "Europe/Berlin",
				BillingContact: contact("Northwind Traders", "billing@northwind.example", "Berlin", "DE")},
			Apps: []billow.CreateAppInput{
				{ExternalID: "support-bot", Name: "Support Bot"},
				{ExternalID: "billing-bot", Name: "Billing Bot", ParentApp: "support-bot"},
				{ExternalID: "sales-assistant", Name: "Sales Assistant"},
			},
			Members: []billow.CreateMemberInput{
				{Email: "owner@northwind.example", Name: "Nora Owner", Role: billow.RoleOwner},
				{Email: "billing@northwind.example", Name: "Ben Billing", Role: billow.RoleBilling},
				{Email: "dev@northwind.example", Name: "Dana Developer", Role: billow.RoleDeveloper},
			},
		},
		{
			Account: billow.CreateAccountInput{ExternalID: "globex", Name: "Globex Corporation", Type: billow.AccountEnterprise,
				Catalog: "ai-for-service", Plan: "enterprise", Timezone: "America/New_York",
				BillingContact: contact("Globex Corporation", "ap@globex.example", "New York", "US")},
			Apps: []billow.CreateAppInput{
				{ExternalID: "hr-helpdesk", Name: "HR Helpdesk"},
				{ExternalID: "it-helpdesk", Name: "IT Helpdesk", ParentApp: "hr-helpdesk"},
			},
			Members: []billow.CreateMemberInput{
				{Email: "cfo@globex.example", Name: "Gina CFO", Role: billow.RoleOwner},
				{Email: "admin@globex.example", Name: "Alex Admin", Role: billow.RoleAdmin},
			},
		},
		{
			Account: billow.CreateAccountInput{ExternalID: "acme-bots", Name: "Acme Bots", Type: billow.AccountStandard,
				Catalog: "credits-platform", Plan: "pay_as_you_go", Timezone: "America/Los_Angeles",
				BillingContact: contact("Acme Bots", "finance@acme.example", "San Francisco", "US")},
			Apps: []billow.CreateAppInput{
				{ExternalID: "receptionist", Name: "Receptionist"},
				{ExternalID: "lead-qualifier", Name: "Lead Qualifier"},
				{ExternalID: "voice-concierge", Name: "Voice Concierge"},
			},
			Members: []billow.CreateMemberInput{
				{Email: "founder@acme.example", Name: "Ada Founder", Role: billow.RoleOwner},
				{Email: "finance@acme.example", Name: "Fin Finance", Role: billow.RoleBilling},
				{Email: "dev@acme.example", Name: "Devi Developer", Role: billow.RoleDeveloper},
			},
		},
		{
			Account: billow.CreateAccountInput{ExternalID: "hobbyist", Name: "Hobby Projects", Type: billow.AccountStandard,
				Catalog: "credits-platform", Plan: "free", Timezone: "UTC",
				BillingContact: contact("Sam Hobbyist", "sam@hobby.example", "Lisbon", "PT")},
			Apps: []billow.CreateAppInput{{ExternalID: "faq-bot", Name: "FAQ Bot"}},
			Members: []billow.CreateMemberInput{
				{Email: "sam@hobby.example", Name: "Sam Hobbyist", Role: billow.RoleOwner},
			},
		},
	}
}

// Load creates the demo accounts that do not exist yet, then runs the extensions.
func Load(ctx context.Context, store Store, logger *slog.Logger, extensions ...Extension) (*Data, error) {
	d := &Data{Apps: map[string][]*billow.App{}}
	for _, spec := range Accounts() {
		a, err := store.Account(ctx, spec.Account.ExternalID)
		switch {
		case billow.ErrorCode(err) == billow.CodeNotFound:
			if a, err = store.CreateAccount(ctx, spec.Account); err != nil {
				return nil, fmt.Errorf("demo: account %s: %w", spec.Account.ExternalID, err)
			}
			for _, m := range spec.Members {
				if _, err := store.CreateMember(ctx, a.ID, m); err != nil {
					return nil, fmt.Errorf("demo: member %s: %w", m.Email, err)
				}
			}
			logger.Info("demo account created", "account", a.ExternalID, "id", a.ID, "plan", a.Plan)
		case err != nil:
			return nil, err
		}
		d.Accounts = append(d.Accounts, a)
		for _, in := range spec.Apps {
			app, err := store.App(ctx, a.ID, in.ExternalID)
			if billow.ErrorCode(err) == billow.CodeNotFound {
				app, err = store.CreateApp(ctx, a.ID, in)
			}
			if err != nil {
				return nil, fmt.Errorf("demo: app %s: %w", in.ExternalID, err)
			}
			d.Apps[a.ID] = append(d.Apps[a.ID], app)
		}
	}
	for _, ext := range extensions {
		if err := ext(ctx, d); err != nil {
			return nil, err
		}
	}
	return d, nil
}
