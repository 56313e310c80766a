package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpExamples: every command's help teaches by example, and every
// example is a command line this binary accepts: its command exists and
// each of its flags does; at least one runs the command itself.
func TestHelpExamples(t *testing.T) {
	root := (&App{Getenv: func(string) string { return "" }}).rootCommand()

	walk(root, func(c *cobra.Command) {
		if c.Hidden {
			return
		}

		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no Example in its help", c.CommandPath())
			return
		}

		runsIt := false

		for _, line := range strings.Split(c.Example, "\n") {
			checkExample(t, c, line)
			runsIt = runsIt || slices.Contains(shellWords(line), c.Name())
		}

		if !runsIt {
			t.Errorf("%s: no example runs it:\n%s", c.CommandPath(), c.Example)
		}
	})
}

// checkExample parses one example line against a fresh command tree.
func checkExample(t *testing.T, c *cobra.Command, line string) {
	t.Helper()

	words := shellWords(line)
	if len(words) < 1 || words[0] != "lifeboat" {
		if len(words) > 0 && words[0] == "export" { // setting a variable first
			return
		}

		t.Errorf("%s: example %q does not start with lifeboat", c.CommandPath(), line)

		return
	}

	root := (&App{Getenv: func(string) string { return "" }}).rootCommand()

	cmd, rest, err := root.Find(words[1:])
	if err != nil || cmd == root {
		t.Errorf("%s: example %q names no command: %v", c.CommandPath(), line, err)
		return
	}

	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
	}
}

// shellWords splits a line as a shell would, enough for the examples:
// single quotes group, and a redirection or && ends the command.
func shellWords(line string) []string {
	var (
		words  []string
		cur    strings.Builder
		quoted bool
		inWord bool
	)

	for _, r := range strings.TrimSpace(line) {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}

			inWord = false
		default:
			cur.WriteRune(r)

			inWord = true
		}
	}

	if inWord {
		words = append(words, cur.String())
	}

	for i, w := range words {
		if w == ">" || w == "&&" || w == "|" {
			return words[:i]
		}
	}

	return words
}

// TestHelpEnvironment: the root help names every variable Lifeboat reads.
func TestHelpEnvironment(t *testing.T) {
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")

	out := e.mustRun("--help")
	for _, v := range []string{EnvPassword, "LIFEBOAT_CONFIG", EnvRepository, "LIFEBOAT_AUDIT_LOG", "audit.path",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "password_env", "Examples:"} {
		if !strings.Contains(out, v) {
			t.Errorf("lifeboat --help does not name %s:\n%s", v, out)
		}
	}
}

// completions runs the shell's completion request and returns the offered
// words (the directive line and descriptions left out).
func completions(t *testing.T, e *env, args ...string) []string {
	t.Helper()

	r := e.run(append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.out, r.err)
	}

	var words []string

	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}

		words = append(words, strings.SplitN(line, "\t", 2)[0])
	}

	return words
}

func TestCompletionNames(t *testing.T) {
	data := t.TempDir()
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+data+"]\n  site:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + "plans:\n  everything:\n    tier: important\n    steps:\n      - restore: docs\n" +
		"copies:\n  near:\n    path: " + filepath.Join(t.TempDir(), "near") + "\n")

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"backup", ""}, []string{"docs", "site"}},
		{[]string{"backup", "docs", ""}, []string{"site"}},
		{[]string{"restore", ""}, []string{"docs", "site"}},
		{[]string{"drill", ""}, []string{"everything"}},
		{[]string{"recover", ""}, []string{"everything"}},
		{[]string{"replicate", "--to", ""}, []string{"near"}},
		{[]string{"status", "--from", ""}, []string{"near"}},
		{[]string{"snapshots", "--source", ""}, []string{"docs", "site"}},
	} {
		if got := completions(t, e, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("__complete %q = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestCompletionSnapshots: --snapshot offers the IDs of the source's
// snapshots from the repository, and nothing without the password (no
// prompt, no error in the shell's line).
func TestCompletionSnapshots(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("alpha"), 0o600); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+data+"]\n  site:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "docs")

	snaps := e.snapshots("docs")
	if len(snaps) != 1 {
		t.Fatalf("want one snapshot of docs, got %d", len(snaps))
	}

	if got := completions(t, e, "restore", "docs", "--snapshot", ""); !slices.Equal(got, []string{snaps[0].ID}) {
		t.Errorf("__complete restore docs --snapshot = %q, want %q", got, snaps[0].ID)
	}

	if got := completions(t, e, "pin", "docs", ""); !slices.Equal(got, []string{snaps[0].ID}) {
		t.Errorf("__complete pin docs = %q, want %q", got, snaps[0].ID)
	}

	if got := completions(t, e, "restore", "site", "--snapshot", ""); len(got) != 0 {
		t.Errorf("__complete restore site --snapshot = %q, want nothing (site has no snapshot)", got)
	}

	delete(e.vars, EnvPassword)

	if got := completions(t, e, "restore", "docs", "--snapshot", ""); len(got) != 0 {
		t.Errorf("without %s: __complete restore docs --snapshot = %q, want nothing", EnvPassword, got)
	}
}

// TestCompletionBadConfig: a broken configuration completes nothing and
// still succeeds, so the shell shows no error text as a candidate.
func TestCompletionBadConfig(t *testing.T) {
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	e.writeConfig("sources: [this is not: a mapping\n")

	for _, args := range [][]string{{"backup", ""}, {"drill", ""}, {"restore", "docs", "--snapshot", ""}, {"replicate", "--to", ""}} {
		r := e.run(append([]string{cobra.ShellCompRequestCmd}, args...)...)
		if r.code != 0 {
			t.Errorf("__complete %q: exit %d, want 0\nstderr: %s", args, r.code, r.err)
		}

		if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], ":") {
			t.Errorf("__complete %q printed candidates with a broken configuration:\n%s", args, r.out)
		}
	}
}

// TestCompletionTables: every command and flag the completion tables name
// exists, so a renamed command or flag cannot silently lose its completion.
func TestCompletionTables(t *testing.T) {
	root := (&App{Getenv: func(string) string { return "" }}).rootCommand()
	byPath := map[string]*cobra.Command{}

	walk(root, func(c *cobra.Command) { byPath[c.CommandPath()] = c })

	for path := range argCompletions {
		if byPath[path] == nil {
			t.Errorf("argCompletions: no command %q", path)
		}
	}

	for path, flags := range flagCompletions {
		for flag := range flags {
			if c := byPath[path]; c == nil || c.Flags().Lookup(flag) == nil {
				t.Errorf("flagCompletions: no flag --%s on %q", flag, path)
			}
		}
	}

	for _, path := range snapshotFlagCommands {
		if c := byPath[path]; c == nil || c.Flags().Lookup("snapshot") == nil {
			t.Errorf("snapshotFlagCommands: no flag --snapshot on %q", path)
		}
	}
}
