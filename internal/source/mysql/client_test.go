package mysql

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOptionFileRoundTrip has the real mariadb client read back option
// files holding every character its parser treats specially: each value
// must arrive exactly as written.
func TestOptionFileRoundTrip(t *testing.T) {
	client, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the mariadb client is not installed: apt-get install mariadb-client")
	}

	values := []string{
		` p#a\\ss"wo'rd `, "plain", "#starts with a comment sign", "; and a semicolon", "  ", " ",
		`ends in a backslash\`, `\\`, `"quoted"`, `'quoted'`, `"`, `'`, `\s\n\t are not escapes here`,
		"line\nbreak", "tab\there", "carriage\rreturn", "back\bspace", "ünïcödé", "not utf-8 \xff\xfe",
		`[client]`, "x\n[mysqld]\nskip-grant-tables", "=", "a = b",
		strings.Repeat("y", maxOptionLine-len(`password=""`)-1), // the longest accepted
	}

	dir := t.TempDir()

	for i, v := range values {
		text, err := optionFile("db", "u", v, "/run/db.sock", "", 0, false, "")
		if err != nil {
			t.Fatal(err)
		}

		f := filepath.Join(dir, "client.cnf")
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}

		out, err := exec.Command(client, "--defaults-file="+f, "--print-defaults").CombinedOutput()
		if err != nil {
			t.Fatalf("value %d: %v: %s", i, err, out)
		}

		_, args, _ := strings.Cut(string(out), "arguments:\n")
		want := "--user=u --password=" + v + " --socket=/run/db.sock --protocol=socket \n"

		if args != want {
			t.Errorf("value %d %q: the client read\n%q\nwant\n%q", i, v, args, want)
		}
	}

	long := strings.Repeat("x", maxOptionLine)
	if _, err := optionFile("db", "u", long, "/s", "", 0, false, ""); err == nil || !strings.Contains(err.Error(), "too long") || strings.Contains(err.Error(), long) {
		t.Errorf("a password too long for the option file: %v", err)
	}
}
