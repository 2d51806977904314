package main

// billow admin: the operators of the admin console (docs/admin.md).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/admin"
)

type adminCmd struct {
	CreateUser adminCreateUserCmd `cmd:"" name:"create-user" help:"Create an operator of the admin console and print the TOTP secret once."`
}

// adminCreateUserCmd reads the password from BILLOW_ADMIN_PASSWORD or, without it, from
// the first line of standard input: never from a flag, which process lists show.
type adminCreateUserCmd struct {
	storeFlags
	Email string `required:"" help:"The operator's email: what they sign in with."`
	Name  string `required:"" help:"The operator's name, shown in the console."`
}

func (c *adminCreateUserCmd) Run(env *runEnv) error {
	password, err := readAdminPassword(os.Getenv("BILLOW_ADMIN_PASSWORD"), os.Stdin)
	if err != nil {
		return err
	}
	db, err := openStore(env, c.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	e, err := admin.CreateUser(env.ctx, db, billow.CreateAdminUserInput{Email: c.Email, Name: c.Name, Password: password})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "id:          %s\nemail:       %s\nTOTP secret: %s\nTOTP URL:    %s\n\n"+
		"Add the secret (or the URL, as a QR code) to an authenticator app now: it is shown only this once.\n"+
		"Sign in at /admin/login with the email, the password and the app's 6-digit code.\n",
		e.User.ID, e.User.Email, e.TOTPSecret, e.TOTPURL)
	return nil
}

// readAdminPassword returns the password from the environment, else the first line of
// in, without its line ending; at most billow.AdminPasswordMaxBytes are read.
func readAdminPassword(fromEnv string, in io.Reader) (string, error) {
	if fromEnv != "" {
		return fromEnv, nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, billow.AdminPasswordMaxBytes+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password: set BILLOW_ADMIN_PASSWORD or write it on standard input (printf '%s\\n' \"$PASSWORD\" | billow admin create-user …)")
	}
	return line, nil
}
