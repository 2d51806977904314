package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/billowhq/billow/catalog"
)

func TestMain(m *testing.M) {
	// serve_test starts this test binary as a real billow process.
	if os.Getenv("BILLOW_TEST_RUN_AS_BILLOW") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"billow": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Setup: func(env *testscript.Env) error {
		// The shipped examples, for scripts that validate or load them.
		for _, name := range catalog.ExampleNames() {
			data, err := catalog.Example(name)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(env.WorkDir, name+".yaml"), data, 0o600); err != nil {
				return err
			}
		}
		return nil
	}})
}
