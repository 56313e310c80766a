package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDaemonRefusesSSOWithoutClientSecret: server.oidc whose client
// secret's variable is not set stops the daemon at start (a usage error,
// exit 2) naming the key and the variable, before it serves anything.
func TestDaemonRefusesSSOWithoutClientSecret(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "hello")
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")

	cfg := "repository:\n  path: " + filepath.Join(e.dir, "repo") + "\naudit:\n  path: " + filepath.Join(e.dir, "audit.jsonl") +
		"\nsources:\n  data:\n    type: files\n    paths: [" + data + "]\n" +
		"server:\n  listen: 127.0.0.1:0\n  oidc:\n    issuer: https://sso.example.org/realms/ops\n    client_id: lifeboat\n" +
		"    client_secret_env: LIFEBOAT_OIDC_SECRET\n    redirect_url: https://127.0.0.1:9750/api/v1/session/oidc/callback\n" +
		"    roles: {lifeboat-admins: admin}\n"
	e.writeConfig(cfg)

	r := e.run("daemon")
	if r.code != 2 || !strings.Contains(r.err, "server.oidc.client_secret_env: LIFEBOAT_OIDC_SECRET is empty or not set") || strings.Contains(r.out, "serving") {
		t.Fatalf("daemon without the client secret: exit %d, out %q, err %q", r.code, r.out, r.err)
	}
}
