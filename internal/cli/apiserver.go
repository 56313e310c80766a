package cli

import (
	"fmt"

	"lifeboat/internal/access"
	"lifeboat/internal/api"
	"lifeboat/internal/config"
	"lifeboat/internal/daemon"
	"lifeboat/internal/dashboard"
)

// apiFront is the daemon's HTTP front door: the API on the daemon's
// executor, over TLS (a configured certificate, or a self-signed one kept
// in the state folder, whose fingerprint is printed). Users and tokens
// come from the repository's access store.
func (a *App) apiFront(cfg *config.Config, d *daemon.Daemon) error {
	t, err := api.NewTransport(cfg, a.clock())
	if err != nil {
		return usage("%v", err)
	}

	if t.Fingerprint != "" {
		fmt.Fprintf(a.Stdout, "lifeboat daemon: HTTPS certificate %s, SHA-256 fingerprint %s\n", t.CertFile, t.Fingerprint)
		a.log.Info("HTTPS certificate", "file", t.CertFile, "sha256", t.Fingerprint)
	}

	users := &access.Store{Repo: d.Repo, Log: a.log, Clock: a.clock()}
	if d.Audit != nil {
		users.Audit = d.Audit
	}

	d.Front = &api.Server{
		Cfg: cfg, Repo: d.Repo, Sources: d.Sources, Exec: d.Ops, Audit: d.Audit, Transport: t,
		Password: d.Password, Getenv: a.Getenv, Log: a.log, Clock: a.clock(), AfterJob: d.CopyAudit,
		Authority: users, Pages: dashboard.Wrap,
	}

	if o := cfg.Server.OIDC; o != nil {
		sso, err := api.NewSSO(o, a.Getenv)
		if err != nil {
			return usage("%v", err)
		}

		d.Front.(*api.Server).SSO = sso
		d.Front.(*api.Server).Pages = dashboard.WrapWith(dashboard.Options{SSO: sso.Name()})
	}

	return nil
}

// printFingerprint tells `lifeboat status` the daemon's certificate
// fingerprint (on stderr under --json), when it has one.
func (a *App) printFingerprint(cfg *config.Config, asJSON bool) {
	cert, _ := api.CertFiles(cfg)

	fp, err := api.FileFingerprint(cert)
	if err != nil {
		return
	}

	w := a.Stdout
	if asJSON {
		w = a.Stderr
	}

	fmt.Fprintf(w, "\nAPI certificate SHA-256: %s\n", fp)
}

// scheme is the daemon's endpoint's URL scheme.
func scheme(d *daemon.Daemon) string {
	if s, ok := d.Front.(*api.Server); ok && s.Transport.TLS != nil {
		return "https"
	}

	return "http"
}
