package passcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunReturnsFirstLine(t *testing.T) {
	pw, err := Run(context.Background(), "printf 'pass word\\r\\nsecond\\n'", nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	if pw != "pass word" {
		t.Fatalf("got %q", pw)
	}
}

// TestRunKeepsSecretsFromChild: the child sees neither a named secret nor a
// variable outside the allow-list, and its stdin is empty.
func TestRunKeepsSecretsFromChild(t *testing.T) {
	t.Setenv("PASSCMD_VAULT_TOKEN", "token-1f2e3d")
	t.Setenv("LANG", "secret-in-lang")

	dir := t.TempDir()
	env := filepath.Join(dir, "env")

	pw, err := Run(context.Background(), "env > "+env+"; cat; echo ok", []string{"LANG"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	if pw != "ok" {
		t.Fatalf("stdin reached the command, or output was lost: %q", pw)
	}

	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}

	for _, s := range []string{"token-1f2e3d", "secret-in-lang"} {
		if strings.Contains(string(b), s) {
			t.Fatalf("child environment holds %s:\n%s", s, b)
		}
	}
}

// TestRunFailureHidesOutput: a failing command's stdout never reaches the
// error; its stderr goes where the caller said.
func TestRunFailureHidesOutput(t *testing.T) {
	var stderr bytes.Buffer

	_, err := Run(context.Background(), "echo marker-7c1d; echo diag >&2; exit 3", nil, &stderr)
	if err == nil {
		t.Fatal("a failing command was accepted")
	}

	if strings.Contains(err.Error(), "marker-7c1d") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("error: %v", err)
	}

	if stderr.String() != "diag\n" {
		t.Fatalf("stderr: %q", stderr.String())
	}
}

func TestRunEmptyOutputRefused(t *testing.T) {
	if _, err := Run(context.Background(), "echo", nil, nil); err != ErrEmpty {
		t.Fatalf("got %v", err)
	}
}
