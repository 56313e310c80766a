package childenv

import (
	"slices"
	"testing"
)

// TestFrom keeps the allowed variables, drops everything else and every
// name the configuration reads a secret from, and appends the caller's.
func TestFrom(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_TIME=C", "TZ=UTC",
		"LIFEBOAT_PASSWORD=p", "AWS_SECRET_ACCESS_KEY=k", "LC_TOKEN=t", "GIT_DIR=/elsewhere",
		"MYSQL_PWD=m", "LIFEBOAT_RESTORED_DB=inherited", "NOEQUALS",
	}

	got := From(environ, []string{"TZ"}, "LIFEBOAT_RESTORED_DB=shop_copy")
	want := []string{"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_TIME=C", "LIFEBOAT_RESTORED_DB=shop_copy"}

	if !slices.Equal(got, want) {
		t.Errorf("From = %q, want %q", got, want)
	}

	// An empty result must still be a list: exec.Cmd reads a nil Env as
	// "inherit everything".
	if got := From([]string{"SECRET=x"}, nil); got == nil || len(got) != 0 {
		t.Errorf("From with nothing allowed = %#v, want an empty, non-nil list", got)
	}
}
