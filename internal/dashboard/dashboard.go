// Package dashboard is the daemon's web pages: server-rendered HTML shells
// with a small script that reads and acts through the JSON API under
// /api/v1, with the browser's session cookie and CSRF header. The pages
// never reach into the core: the API decides what a role may do, and the
// pages only hide the controls a role cannot use. Everything is embedded
// in the binary; nothing is fetched from elsewhere at run time.
package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Page is one screen of the dashboard.
type Page struct {
	// Path is where it is served, Name its template and Title its heading.
	Path, Name, Title string
	// Nav says whether the top navigation links to it.
	Nav bool
	// Perm, when set, is the permission without which the navigation
	// hides the link (the API refuses the page's calls anyway).
	Perm string
}

// Pages are the dashboard's screens, in the order of the navigation.
var Pages = []Page{
	{"/", "overview", "Overview", true, ""},
	{"/jobs", "jobs", "Jobs", true, ""},
	{"/timeline", "timeline", "Timeline", true, ""},
	{"/restore", "restore", "Restore", true, "restore-scratch"},
	{"/browse", "browse", "Snapshots", true, ""},
	{"/audit", "audit", "Audit", true, "read-audit"},
	{"/copies", "copies", "Copies", true, ""},
	{"/drills", "drills", "Drills", true, ""},
	{"/account", "account", "Account", true, ""},
	{"/login", "login", "Log in", false, ""},
}

// csp lets the pages run only the embedded script and style, and talk only
// to their own origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// view is what a page's template is rendered with.
type view struct {
	Page  Page
	Pages []Page
}

// Wrap serves the dashboard's pages and assets, and passes everything
// else (the daemon's /metrics, /healthz, /readyz) to base.
func Wrap(base http.Handler) http.Handler {
	h, err := New(base)
	if err != nil {
		// The templates are embedded: a parse error is a build mistake
		// the package's tests catch.
		panic(err)
	}

	return h
}

// New is Wrap with the templates' error returned.
func New(base http.Handler) (http.Handler, error) {
	mux := http.NewServeMux()

	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}

	mux.Handle("GET /assets/", http.StripPrefix("/assets/", assets(http.FileServerFS(static))))

	for _, p := range Pages {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+p.Name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard page %s: %w", p.Name, err)
		}

		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, "layout", view{Page: p, Pages: Pages}); err != nil {
			return nil, fmt.Errorf("dashboard page %s: %w", p.Name, err)
		}

		body := buf.Bytes()
		pattern := "GET " + p.Path
		if p.Path == "/" {
			pattern = "GET /{$}"
		}

		mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Security-Policy", csp)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(body)
		})
	}

	mux.Handle("/", base)

	return mux, nil
}

// assets sets the assets' CSP (a script or style is never a document).
func assets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		next.ServeHTTP(w, r)
	})
}
