// Package emails owns the email catalogue: which emails Billow sends (the product emails
// of seed 000 a platform asks for, the pricing emails its billing events cause, and those
// a credits business needs), the data each one needs, and their templates in HTML and
// plain text, rendered in the operator's brand. It renders; it does not send (package
// notify delivers what it renders).
package emails

import (
	"maps"
	"strings"

	"github.com/billowhq/billow"
)

// Group is the part of the catalogue an email belongs to.
type Group string

const (
	// GroupProduct emails are sent when the platform calls POST /v1/notifications: the
	// platform owns identity (sign-up, passwords, invitations), Billow renders and delivers.
	GroupProduct Group = "product"
	// GroupPricing emails are caused by Billow's own billing events.
	GroupPricing Group = "pricing"
	// GroupCredits emails are caused by credit and payment events.
	GroupCredits Group = "credits"
)

// FieldType says what a field's value is; the renderer checks it before rendering.
type FieldType string

const (
	// FieldText is a string shown as given; a number is accepted and printed in its
	// shortest form. Amounts and dates arrive formatted: formatting is the caller's job.
	FieldText FieldType = "text"
	// FieldURL is an absolute http or https URL: a link in the email.
	FieldURL FieldType = "url"
	// FieldFlag is a boolean that changes the wording.
	FieldFlag FieldType = "flag"
	// FieldList is a list of strings, or of objects {"name": …, "quantity": …} whose
	// quantity is optional.
	FieldList FieldType = "list"
)

// Field is one datum a template reads.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	// Secret fields (one-time codes, reset and invitation links) are in the email and
	// nowhere else: never in a log, a delivery log, an error or a subject line.
	Secret bool
	Doc    string
}

// Template is one email of the catalogue.
type Template struct {
	Key         string
	Title       string // as the seed names it
	Group       Group
	Description string
	// Triggers are the billing event types that cause the email (pricing and credits
	// emails); empty for product emails, which the platform asks for.
	Triggers []string
	// Recipients are the roles of the account's members who receive it; nil for product
	// emails, whose recipients the platform names.
	Recipients []billow.Role
	Fields     []Field
	// AttachInvoicePDF: the invoice the event names is attached as a PDF.
	AttachInvoicePDF bool
	// Sample is realistic data for previews and tests: every field, required or not.
	// Read it through the function Sample, which returns a copy.
	Sample map[string]any
}

// Keys of the catalogue's templates.
const (
	SignupOTP                    = "signup_otp"
	ForgotPassword               = "forgot_password"
	TwoFactorOTP                 = "two_factor_otp"
	WorkspaceApprovalRequest     = "workspace_approval_request"
	WorkspaceApprovalAccepted    = "workspace_approval_accepted"
	WorkspaceApprovalRejected    = "workspace_approval_rejected"
	InviteNewUserAdmin           = "invite_new_user_admin"
	InviteExistingUserAdmin      = "invite_existing_user_admin"
	InviteNewUserBot             = "invite_new_user_bot"
	InviteExistingUserBotOutside = "invite_existing_user_bot_outside"
	InviteExistingUserBotMember  = "invite_existing_user_bot_member"
	BotPublish                   = "bot_publish"
	FreeTokensExhausted          = "free_tokens_exhausted"

	SubscriptionAutomationAI    = "subscription_automation_ai"
	SubscriptionContactCenterAI = "subscription_contact_center_ai"
	SubscriptionBoth            = "subscription_automation_and_contact_center_ai"
	SubscriptionActivated       = "subscription_activated" // a plan with neither product (e.g. the credits-platform catalog)
	AddOnVoiceGateway           = "add_on_voice_gateway"
	AddOnSingle                 = "add_on_single"
	AddOnMultiple               = "add_on_multiple"
	RenewalSucceeded            = "renewal_succeeded"
	RenewalFailed               = "renewal_failed"
	TrialExpired                = "trial_expired"
	SubscriptionExpired         = "subscription_expired"
	SubscriptionCanceled        = "subscription_canceled"

	CreditsLow               = "credits_low"
	CreditsExhausted         = "credits_exhausted"
	WireTransferInstructions = "wire_transfer_instructions"
	PaymentReceived          = "payment_received"
	InvoiceAvailable         = "invoice_available"
)

// billingRoles receive every pricing and credits email: those who pay.
var billingRoles = []billow.Role{billow.RoleOwner, billow.RoleBilling}

// textOrURL types a field by its name: the catalogue names every link "…_url".
func textOrURL(name string) FieldType {
	if strings.HasSuffix(name, "_url") {
		return FieldURL
	}
	return FieldText
}

func required(name, doc string) Field {
	return Field{Name: name, Type: textOrURL(name), Required: true, Doc: doc}
}
func optional(name, doc string) Field { return Field{Name: name, Type: textOrURL(name), Doc: doc} }
func secret(name, doc string) Field {
	return Field{Name: name, Type: textOrURL(name), Required: true, Secret: true, Doc: doc}
}
func flag(name, doc string) Field { return Field{Name: name, Type: FieldFlag, Doc: doc} }
func list(name string, req bool, doc string) Field {
	return Field{Name: name, Type: FieldList, Required: req, Doc: doc}
}

// Fields every subscription email reads.
var subscriptionFields = []Field{
	required("plan_name", "the plan's name"),
	required("amount", "what was charged, formatted with its currency (\"$49.00\")"),
	optional("invoice_number", "the invoice of the charge"),
	optional("next_billing_date", "the next renewal, formatted (\"24 December 2026\")"),
	list("products", false, "the plan's product names"),
}

var catalogue = []Template{
	{Key: SignupOTP, Title: "Sign-up OTP / Resend OTP", Group: GroupProduct, Description: "Provides an OTP to complete the self-signup process.",
		Fields: []Field{secret("otp", "the one-time code"), required("expires_minutes", "how long the code is valid"), flag("resend", "true when this is a new code sent again")},
		Sample: map[string]any{"otp": "482913", "expires_minutes": 10, "resend": false}},
	{Key: ForgotPassword, Title: "Forgot Password", Group: GroupProduct, Description: "Provides a verification link to reset the password.",
		Fields: []Field{secret("reset_url", "the verification link"), required("expires_minutes", "how long the link is valid")},
		Sample: map[string]any{"reset_url": "https://app.example.com/reset?token=Zx81kQp2", "expires_minutes": 30}},
	{Key: TwoFactorOTP, Title: "Two-Factor OTP / Resend OTP", Group: GroupProduct, Description: "Provides an OTP for two-factor authentication (2FA).",
		Fields: []Field{secret("otp", "the one-time code"), required("expires_minutes", "how long the code is valid"), flag("resend", "true when this is a new code sent again")},
		Sample: map[string]any{"otp": "730154", "expires_minutes": 5, "resend": false}},
	{Key: WorkspaceApprovalRequest, Title: "Workspace Approval Request", Group: GroupProduct, Description: "Notifies the account owner of an access request, asking for approval or denial.",
		Fields: []Field{required("requester_name", ""), required("requester_email", ""), required("workspace", "the workspace's name"), required("review_url", "where the owner approves or denies")},
		Sample: map[string]any{"requester_name": "Priya Raman", "requester_email": "priya.raman@northwind.example", "workspace": "Northwind Support", "review_url": "https://app.example.com/workspaces/northwind/requests/req_7h2k"}},
	{Key: WorkspaceApprovalAccepted, Title: "Workspace Approval Accepted", Group: GroupProduct, Description: "Confirms that an access request to the workspace has been approved.",
		Fields: []Field{required("workspace", ""), required("workspace_url", "")},
		Sample: map[string]any{"workspace": "Northwind Support", "workspace_url": "https://app.example.com/workspaces/northwind"}},
	{Key: WorkspaceApprovalRejected, Title: "Workspace Approval Rejected", Group: GroupProduct, Description: "Informs the requester that their access request was declined.",
		Fields: []Field{required("workspace", ""), optional("reason", "")},
		Sample: map[string]any{"workspace": "Northwind Support", "reason": "This workspace is limited to the support team."}},
	{Key: InviteNewUserAdmin, Title: "Invite New User (Admin Console)", Group: GroupProduct, Description: "Invites a new user to join a platform workspace.",
		Fields: []Field{required("inviter_name", ""), required("workspace", ""), secret("accept_url", "the invitation link, which signs the user up")},
		Sample: map[string]any{"inviter_name": "Daniel Okafor", "workspace": "Northwind Support", "accept_url": "https://app.example.com/invitations/inv_3mQ9vX"}},
	{Key: InviteExistingUserAdmin, Title: "Invite Existing User (Admin Console)", Group: GroupProduct, Description: "Invites an existing user to join a platform workspace.",
		Fields: []Field{required("inviter_name", ""), required("workspace", ""), secret("accept_url", "the invitation link")},
		Sample: map[string]any{"inviter_name": "Daniel Okafor", "workspace": "Northwind Support", "accept_url": "https://app.example.com/invitations/inv_8pL2wR"}},
	{Key: InviteNewUserBot, Title: "Invite New User (from bot)", Group: GroupProduct, Description: "Invites a new user to join an app on the platform.",
		Fields: []Field{required("inviter_name", ""), required("app", "the app's (bot's) name"), secret("accept_url", "the invitation link, which signs the user up")},
		Sample: map[string]any{"inviter_name": "Daniel Okafor", "app": "Order Status Assistant", "accept_url": "https://app.example.com/invitations/inv_5tY7nB"}},
	{Key: InviteExistingUserBotOutside, Title: "Invite Existing User from Bot (not part of account)", Group: GroupProduct, Description: "Invites an existing user to join an app, with steps to access its features.",
		Fields: []Field{required("inviter_name", ""), required("app", ""), required("workspace", "the account's workspace the user joins with the app"), secret("accept_url", "the invitation link")},
		Sample: map[string]any{"inviter_name": "Daniel Okafor", "app": "Order Status Assistant", "workspace": "Northwind Support", "accept_url": "https://app.example.com/invitations/inv_2cF4hJ"}},
	{Key: InviteExistingUserBotMember, Title: "Invite Existing User from Bot (part of account)", Group: GroupProduct, Description: "Invites an account member to join an app via bot invitation.",
		Fields: []Field{required("inviter_name", ""), required("app", ""), required("app_url", "where the member opens the app")},
		Sample: map[string]any{"inviter_name": "Daniel Okafor", "app": "Order Status Assistant", "app_url": "https://app.example.com/apps/order-status"}},
	{Key: BotPublish, Title: "Bot Publish", Group: GroupProduct, Description: "Confirms the successful publication of a bot.",
		Fields: []Field{required("app", ""), optional("version", ""), optional("environment", "e.g. production"), required("app_url", "")},
		Sample: map[string]any{"app": "Order Status Assistant", "version": "v14", "environment": "production", "app_url": "https://app.example.com/apps/order-status"}},
	{Key: FreeTokensExhausted, Title: "Free Tokens Exhausted", Group: GroupProduct, Description: "Informs the user that free tokens for Generative AI features are exhausted, with steps to configure their own LLM.",
		Fields: []Field{optional("app", ""), required("settings_url", "where the user configures their own LLM key")},
		Sample: map[string]any{"app": "Order Status Assistant", "settings_url": "https://app.example.com/settings/llm"}},

	{Key: SubscriptionAutomationAI, Title: "Automation AI Subscription", Group: GroupPricing, Description: "Confirms activation of the Automation AI subscription and successful payment.",
		Triggers: []string{"subscription.activated"}, Recipients: billingRoles, Fields: subscriptionFields,
		Sample: map[string]any{"plan_name": "Automation AI Standard", "amount": "$49.00", "invoice_number": "INV-2026-00142", "next_billing_date": "24 December 2026", "products": []any{"Automation AI"}}},
	{Key: SubscriptionContactCenterAI, Title: "Contact Center AI Subscription", Group: GroupPricing, Description: "Confirms activation of the Contact Center AI subscription and successful payment.",
		Triggers: []string{"subscription.activated"}, Recipients: billingRoles, Fields: subscriptionFields,
		Sample: map[string]any{"plan_name": "Contact Center AI Standard", "amount": "$95.00", "invoice_number": "INV-2026-00143", "next_billing_date": "24 December 2026", "products": []any{"Contact Center AI"}}},
	{Key: SubscriptionBoth, Title: "Automation AI & Contact Center AI Subscription", Group: GroupPricing, Description: "Confirms activation of both subscriptions and successful payment.",
		Triggers: []string{"subscription.activated"}, Recipients: billingRoles, Fields: subscriptionFields,
		Sample: map[string]any{"plan_name": "AI Suite Standard", "amount": "$144.00", "invoice_number": "INV-2026-00144", "next_billing_date": "24 December 2026", "products": []any{"Automation AI", "Contact Center AI"}}},
	{Key: SubscriptionActivated, Title: "Subscription activated", Group: GroupPricing, Description: "Confirms activation of a plan with neither product above and successful payment.",
		Triggers: []string{"subscription.activated"}, Recipients: billingRoles, Fields: subscriptionFields,
		Sample: map[string]any{"plan_name": "Pay-as-you-go", "amount": "$50.00", "invoice_number": "INV-2026-00145", "next_billing_date": "24 December 2026", "products": []any{"Agent Platform"}}},
	{Key: AddOnVoiceGateway, Title: "Add-on: Voice Gateway with ASR and TTS", Group: GroupPricing, Description: "Confirms activation of the Voice Gateway add-on with ASR and TTS.",
		Triggers: []string{"subscription.activated", "subscription.changed"}, Recipients: billingRoles,
		Fields: []Field{required("add_on_name", ""), required("quantity", ""), optional("amount", "what was charged now, formatted")},
		Sample: map[string]any{"add_on_name": "Voice Gateway with ASR and TTS", "quantity": 2, "amount": "$40.00"}},
	{Key: AddOnSingle, Title: "Single Add-on Subscription (e.g., Advanced RAG)", Group: GroupPricing, Description: "Confirms activation of a single add-on subscription.",
		Triggers: []string{"subscription.activated", "subscription.changed"}, Recipients: billingRoles,
		Fields: []Field{required("add_on_name", ""), required("quantity", ""), optional("amount", "what was charged now, formatted")},
		Sample: map[string]any{"add_on_name": "Advanced RAG", "quantity": 1, "amount": "$25.00"}},
	{Key: AddOnMultiple, Title: "Multiple Add-ons", Group: GroupPricing, Description: "Confirms activation of multiple add-on subscriptions.",
		Triggers: []string{"subscription.activated", "subscription.changed"}, Recipients: billingRoles,
		Fields: []Field{list("add_ons", true, "the add-ons, each {name, quantity}"), optional("amount", "what was charged now, formatted")},
		Sample: map[string]any{"add_ons": []any{map[string]any{"name": "Advanced RAG", "quantity": 1}, map[string]any{"name": "Extra agent slots", "quantity": 5}}, "amount": "$75.00"}},
	{Key: RenewalSucceeded, Title: "Auto-Renewal Successful", Group: GroupPricing, Description: "Confirms successful subscription renewal with plan, billing amount, and next billing date.",
		Triggers: []string{"subscription.renewed", "subscription.recovered"}, Recipients: billingRoles,
		Fields: []Field{required("plan_name", ""), required("amount", ""), required("next_billing_date", ""), optional("invoice_number", "")},
		Sample: map[string]any{"plan_name": "Automation AI Standard", "amount": "$49.00", "next_billing_date": "24 January 2027", "invoice_number": "INV-2026-00188"}},
	{Key: RenewalFailed, Title: "Auto-Renewal Unsuccessful", Group: GroupPricing, Description: "Alerts the user of a renewal failure and the number of days before services stop.",
		Triggers: []string{"subscription.renewal_failed", "subscription.retry_failed"}, Recipients: billingRoles,
		Fields: []Field{required("plan_name", ""), required("amount", ""), required("days_until_stop", "whole days before services stop"), required("stop_date", "formatted"), required("pay_url", "where to pay or change the card")},
		Sample: map[string]any{"plan_name": "Automation AI Standard", "amount": "$49.00", "days_until_stop": 7, "stop_date": "31 December 2026", "pay_url": "https://billing.example.com/portal/payment-methods"}},
	{Key: TrialExpired, Title: "Trial Expired", Group: GroupPricing, Description: "Informs the user that their trial has ended and prompts an upgrade to a paid plan.",
		Triggers: []string{"subscription.trial_expired"}, Recipients: billingRoles,
		Fields: []Field{required("plan_name", ""), required("upgrade_url", "")},
		Sample: map[string]any{"plan_name": "Automation AI Trial", "upgrade_url": "https://billing.example.com/portal/plans"}},
	{Key: SubscriptionExpired, Title: "Subscription Expired", Group: GroupPricing, Description: "Informs the user that their subscription has expired and prompts renewal.",
		Triggers: []string{"subscription.expired", "subscription.suspended"}, Recipients: billingRoles,
		Fields: []Field{required("plan_name", ""), required("renew_url", "")},
		Sample: map[string]any{"plan_name": "Automation AI Standard", "renew_url": "https://billing.example.com/portal/plans"}},
	{Key: SubscriptionCanceled, Title: "Subscription Canceled", Group: GroupPricing, Description: "Confirms that the subscription cancellation has been processed and billing has stopped.",
		Triggers: []string{"subscription.canceled"}, Recipients: billingRoles,
		Fields: []Field{required("plan_name", ""), required("canceled_on", "formatted date")},
		Sample: map[string]any{"plan_name": "Automation AI Standard", "canceled_on": "24 December 2026"}},

	{Key: CreditsLow, Title: "Low credits", Group: GroupCredits, Description: "Warns that the credit balance fell below the account's threshold.",
		Triggers: []string{"credits.low_balance"}, Recipients: billingRoles,
		Fields: []Field{required("balance_credits", "the balance, formatted, without the unit (\"4,250\")"), required("threshold_credits", "the alert threshold, formatted, without the unit"), required("buy_url", "")},
		Sample: map[string]any{"balance_credits": "4,250", "threshold_credits": "5,000", "buy_url": "https://billing.example.com/portal/credits"}},
	{Key: CreditsExhausted, Title: "Credits exhausted", Group: GroupCredits, Description: "Tells that the credits are used up and new conversations are refused.",
		Triggers: []string{"credits.exhausted"}, Recipients: billingRoles,
		Fields: []Field{required("buy_url", "")},
		Sample: map[string]any{"buy_url": "https://billing.example.com/portal/credits"}},
	{Key: WireTransferInstructions, Title: "Wire transfer instructions", Group: GroupCredits, Description: "Gives the bank details and reference of a wire transfer order pending clearance.",
		Triggers: []string{"order.pending_payment"}, Recipients: billingRoles,
		Fields: []Field{required("amount", ""), required("reference", "the transfer reference to quote"), required("beneficiary", ""), required("iban", ""),
			required("bic", ""), optional("bank_name", ""), required("clearance_days", "e.g. \"4–8 business days\""), optional("order", "the order id")},
		Sample: map[string]any{"amount": "$1,000.00", "reference": "BLW-7Q4M-2K9D", "beneficiary": "Example Platform Inc.", "iban": "DE89 3704 0044 0532 0130 00", "bic": "COBADEFFXXX", "bank_name": "Commerzbank AG", "clearance_days": "4–8 business days", "order": "ord_01jf3q8m2x"}},
	{Key: PaymentReceived, Title: "Payment received", Group: GroupCredits, Description: "Confirms a payment.",
		Triggers: []string{"invoice.paid"}, Recipients: billingRoles,
		Fields: []Field{required("amount", ""), required("invoice_number", ""), optional("payment_method", "e.g. \"Visa •••• 4242\"")},
		Sample: map[string]any{"amount": "$49.00", "invoice_number": "INV-2026-00188", "payment_method": "Visa •••• 4242"}},
	{Key: InvoiceAvailable, Title: "Invoice available", Group: GroupCredits, Description: "Tells that an invoice is issued; the PDF is attached.",
		Triggers: []string{"invoice.finalized"}, Recipients: billingRoles, AttachInvoicePDF: true,
		Fields: []Field{required("invoice_number", ""), required("amount", ""), required("billing_date", "formatted"), optional("due_date", "formatted"), optional("invoice_url", "")},
		Sample: map[string]any{"invoice_number": "INV-2026-00188", "amount": "$49.00", "billing_date": "24 December 2026", "due_date": "7 January 2027", "invoice_url": "https://billing.example.com/portal/invoices/inv_01jf3q9a7c"}},
}

// Catalogue returns every template of the catalogue, in the order above.
func Catalogue() []Template { return catalogue }

// Lookup returns the template of a key.
func Lookup(key string) (Template, bool) {
	for _, t := range catalogue {
		if t.Key == key {
			return t, true
		}
	}
	return Template{}, false
}

// Sample returns a copy of the sample data of the template of key, or nil when the
// catalogue has no such template. The copy is the caller's to change.
func Sample(key string) map[string]any {
	t, ok := Lookup(key)
	if !ok {
		return nil
	}
	out := make(map[string]any, len(t.Sample))
	for k, v := range t.Sample {
		out[k] = copyValue(v)
	}
	return out
}

// copyValue copies the lists and objects of sample data so that no caller can change the
// catalogue through a copy.
func copyValue(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	case []string:
		return append([]string(nil), v...)
	case map[string]any:
		return maps.Clone(v)
	case []map[string]any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			out[i] = maps.Clone(e)
		}
		return out
	}
	return v
}
