package main

// billow notify: look at the emails Billow sends without sending any.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/billowhq/billow/emails"
)

// previewDataBytesMax bounds a --data file: sample data is a few hundred bytes.
const previewDataBytesMax = 1 << 20

type notifyCmd struct {
	List    notifyListCmd    `cmd:"" help:"Print the email catalogue: key, group, title, triggers, recipients."`
	Preview notifyPreviewCmd `cmd:"" help:"Render an email with its sample data (or --data) and print its subject and body."`
}

type notifyListCmd struct{}

func (notifyListCmd) Run(env *runEnv) error {
	w := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KEY\tGROUP\tTITLE\tTRIGGERS\tRECIPIENTS")
	for _, t := range emails.Catalogue() {
		// Product emails are asked for by the platform, which names their recipients.
		triggers, recipients := "POST /v1/notifications", "named by the platform"
		if len(t.Triggers) > 0 {
			triggers = strings.Join(t.Triggers, ", ")
		}
		if len(t.Recipients) > 0 {
			roles := make([]string, len(t.Recipients))
			for i, r := range t.Recipients {
				roles[i] = string(r)
			}
			recipients = strings.Join(roles, ", ")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Key, t.Group, t.Title, triggers, recipients)
	}
	return w.Flush()
}

// emailBrandFlags are the operator's branding in emails: the flags and environment
// variables of serve's invoice branding, plus a logo URL (an email links its logo).
type emailBrandFlags struct {
	BrandName    string   `default:"Billow demo operator" env:"BILLOW_BRAND_NAME" help:"The operator's name in emails."`
	BrandAddress []string `env:"BILLOW_BRAND_ADDRESS" sep:"|" help:"Address lines in the footer, separated by | in the environment variable."`
	BrandEmail   string   `env:"BILLOW_BRAND_EMAIL" help:"The support contact in the footer."`
	BrandWebsite string   `env:"BILLOW_BRAND_WEBSITE" help:"The website in the footer."`
	BrandColor   string   `default:"#1f6feb" env:"BILLOW_BRAND_COLOR" help:"The accent colour, #rrggbb."`
	BrandLogoURL string   `env:"BILLOW_BRAND_LOGO_URL" help:"Absolute http(s) URL of the logo image; none: the name is shown."`
}

func (b emailBrandFlags) brand() emails.Brand {
	return emails.Brand{Name: b.BrandName, Email: b.BrandEmail, Website: b.BrandWebsite,
		AccentColor: b.BrandColor, LogoURL: b.BrandLogoURL, Address: b.BrandAddress}
}

type notifyPreviewCmd struct {
	emailBrandFlags
	Template   string `arg:"" help:"The email's key (billow notify list)."`
	Locale     string `default:"en" help:"The locale; one without templates falls back to en."`
	Format     string `default:"both" enum:"text,html,both" help:"What to print: text, html or both."`
	Templates  string `env:"BILLOW_EMAIL_TEMPLATES" help:"A directory of template overrides (docs/emails.md)."`
	Data       string `type:"existingfile" help:"A JSON object of the email's fields, instead of its sample data."`
	Recipient  string `default:"Alex Morgan" help:"The recipient's name in the greeting; empty for the neutral greeting."`
	Whitelabel bool   `help:"Leave out the Powered by Billow line, as for an account with the whitelabel add-on."`
}

func (c *notifyPreviewCmd) Run(env *runEnv) error {
	r, err := emails.NewRenderer(c.Templates)
	if err != nil {
		return err
	}
	data := emails.Sample(c.Template) // nil for an unknown key, which Render reports
	if c.Data != "" {
		if data, err = readPreviewData(c.Data); err != nil {
			return err
		}
	}
	out, err := r.Render(emails.Input{Template: c.Template, Locale: c.Locale, Brand: c.brand(),
		PoweredBy: !c.Whitelabel, RecipientName: c.Recipient, Data: data})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Subject: %s\n", out.Subject)
	if c.Format != "html" {
		fmt.Fprintf(env.stdout, "\n%s", out.Text)
	}
	if c.Format == "both" {
		fmt.Fprintln(env.stdout, "\n----- HTML -----")
	}
	if c.Format != "text" {
		fmt.Fprintf(env.stdout, "\n%s\n", out.HTML)
	}
	return nil
}

// readPreviewData reads a JSON object; numbers stay as written.
func readPreviewData(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, previewDataBytesMax+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > previewDataBytesMax {
		return nil, fmt.Errorf("--data %s: larger than %d bytes", path, previewDataBytesMax)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("--data %s: want a JSON object of the email's fields: %w", path, err)
	}
	return data, nil
}
