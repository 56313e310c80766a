package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lifeboat/internal/config"
)

// TestInitRepoRefusals: init --repo never replaces a file and leaves
// nothing behind when it cannot finish; with a configuration file, init
// works from it as before and writes none.
func TestInitRepoRefusals(t *testing.T) {
	u := newFirstUser(t)
	repoDir := filepath.Join(t.TempDir(), "backups")

	// Something is where the configuration would go.
	if err := os.MkdirAll(u.file, 0o755); err != nil {
		t.Fatal(err)
	}

	r := u.run("init", "--repo", repoDir)
	if r.code != 2 || !strings.Contains(r.err, u.file+" exists") || !strings.Contains(r.err, "never replaces one") || !strings.Contains(r.err, "--config FILE") {
		t.Errorf("init --repo over an existing path: exit %d: %s", r.code, r.err)
	}

	if _, err := os.Stat(repoDir); err == nil {
		t.Error("init --repo created the repository although it refused")
	}

	os.Remove(u.file)

	// No password: neither the repository nor the file.
	delete(u.vars, EnvPassword)
	u.refused([]string{"LIFEBOAT_PASSWORD"}, "init", "--repo", repoDir)

	if _, err := os.Stat(repoDir); err == nil {
		t.Error("init --repo without a password created the repository")
	}

	u.vars[EnvPassword] = testPassword

	// A repository already there: the configuration is not written, and the
	// message says how to get the one the repository keeps.
	u.mustRun("init", "--repo", repoDir)
	os.Remove(u.file)
	u.refused([]string{"a repository already exists here", "config restore -o " + u.file}, "init", "--repo", repoDir)

	// With a configuration file, init --repo creates the repository there
	// from that file, as always, and writes no other file.
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")
	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n")
	e.vars["XDG_CONFIG_HOME"] = u.vars["XDG_CONFIG_HOME"]
	own := readFile(t, e.cfg)
	other := filepath.Join(t.TempDir(), "other")

	if out := e.mustRun("--repo", other, "init"); strings.Contains(out, "wrote") {
		t.Errorf("init --repo with a configuration file wrote one:\n%s", out)
	}

	if readFile(t, e.cfg) != own {
		t.Error("init --repo changed the configuration file")
	}

	if _, err := os.Stat(u.file); err == nil {
		t.Errorf("init --repo with a configuration file wrote %s", u.file)
	}

	// --config naming a file that does not exist: init --repo writes it there.
	named := filepath.Join(t.TempDir(), "site.yaml")
	if out := u.mustRun("--config", named, "init", "--repo", filepath.Join(t.TempDir(), "r")); !strings.Contains(out, "wrote "+named) {
		t.Errorf("init --repo --config NEW: %s", out)
	}
}

// TestUserConfigFile: the per-user file is found after ./lifeboat.yaml and
// before the system file, and --help says so.
func TestUserConfigFile(t *testing.T) {
	u := newFirstUser(t)
	write(t, u.system, "repository:\n  path: /srv/system-repo\nsources:\n  s:\n    type: files\n    paths: [/srv/s]\n")

	if out := u.mustRun("config", "check"); !strings.Contains(out, u.system+": OK") {
		t.Fatalf("without a user file, config check read: %s", out)
	}

	write(t, u.file, "repository:\n  path: /srv/user-repo\nsources:\n  s:\n    type: files\n    paths: [/srv/s]\n")

	if out := u.mustRun("config", "check"); !strings.Contains(out, u.file+": OK: repository /srv/user-repo") {
		t.Fatalf("with a user file, config check read: %s", out)
	}

	// $HOME/.config when $XDG_CONFIG_HOME is not set.
	delete(u.vars, "XDG_CONFIG_HOME")
	home := filepath.Join(u.vars["HOME"], ".config", "lifeboat", "lifeboat.yaml")
	write(t, home, "repository:\n  path: /srv/home-repo\nsources:\n  s:\n    type: files\n    paths: [/srv/s]\n")

	if out := u.mustRun("config", "check"); !strings.Contains(out, home+": OK: repository /srv/home-repo") {
		t.Fatalf("with ~/.config, config check read: %s", out)
	}

	if out := u.mustRun("--help"); !strings.Contains(out, "$XDG_CONFIG_HOME/lifeboat/lifeboat.yaml (default ~/.config/lifeboat/lifeboat.yaml)") {
		t.Errorf("--help does not name the per-user file:\n%s", out)
	}

	// Nothing anywhere: the message names the commands, not a source tree.
	none := newFirstUser(t)
	r := none.run("snapshots")
	for _, want := range []string{"lifeboat init --repo", "lifeboat config example", none.file} {
		if !strings.Contains(r.err, want) {
			t.Errorf("no configuration: message lacks %q: %s", want, r.err)
		}
	}

	if strings.Contains(r.err, "examples/") {
		t.Errorf("no configuration: the message points into a source tree: %s", r.err)
	}
}

// TestConfigExample: both examples parse, pass config check, and the generic
// one checks without a warning once its paths exist.
func TestConfigExample(t *testing.T) {
	e := newEnv(t, "")

	for _, args := range [][]string{{"config", "example"}, {"config", "example", "--sml-library"}} {
		text := e.mustRun(args...)

		cfg, err := config.Parse("example.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%s: the output does not parse: %v", strings.Join(args, " "), err)
		}

		if len(cfg.SourceNames) < 3 {
			t.Errorf("%s: %d sources", strings.Join(args, " "), len(cfg.SourceNames))
		}

		e.writeConfig(text)

		if out := e.mustRun("config", "check"); !strings.Contains(out, ": OK: ") {
			t.Errorf("config check of %s: %s", strings.Join(args, " "), out)
		}
	}

	sml := e.mustRun("config", "example", "--sml-library")
	if shipped := readFile(t, filepath.Join("..", "..", "examples", "sml-library", "lifeboat.yaml")); sml != shipped {
		t.Error("config example --sml-library differs from examples/sml-library/lifeboat.yaml")
	}

	// The generic example's paths made to exist: no warning at all.
	root := t.TempDir()
	text := e.mustRun("config", "example")

	for _, p := range []string{"/srv/documents", "/srv/app", "/backups/lifeboat"} {
		os.MkdirAll(filepath.Join(root, p), 0o755)
		text = strings.ReplaceAll(text, p, filepath.Join(root, p))
	}

	e.writeConfig(text)

	if r := e.run("config", "check"); r.code != 0 || r.err != "" {
		t.Errorf("config check of the generic example with its paths: exit %d, warnings:\n%s", r.code, r.err)
	}
}

// TestNoMessagePointsIntoExamples: no string the binary can print names the
// source tree's examples/ folder, which a binary-only install does not have.
func TestNoMessagePointsIntoExamples(t *testing.T) {
	fset := token.NewFileSet()

	for _, dir := range []string{filepath.Join("..", "..", "internal"), filepath.Join("..", "..", "cmd")} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}

			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}

			ast.Inspect(f, func(n ast.Node) bool {
				if _, ok := n.(*ast.ImportSpec); ok {
					return false
				}

				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, _ := strconv.Unquote(lit.Value); strings.Contains(s, "examples/") {
						t.Errorf("%s: a message names examples/: %s", fset.Position(lit.Pos()), lit.Value)
					}
				}

				return true
			})

			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
