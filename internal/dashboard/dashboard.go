// Package dashboard is the daemon's web pages: server-rendered HTML shells
// with a small script that reads and acts through the JSON API under
// /api/v1, with the browser's session cookie and CSRF header. The pages
// never reach into the core: the API decides what a role may do, and the
// pages only hide the controls a role cannot use. Everything is embedded
// in the binary; nothing is fetched from elsewhere at run time.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"lifeboat/internal/httpgzip"
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
	// Assets are the assets' addresses, each naming its content's hash so
	// a browser keeps it until it changes.
	Assets map[string]string
	// SSO names the single sign-on provider the login page offers ("":
	// none).
	SSO string
}

// Options are what the pages show beyond the embedded files.
type Options struct {
	// SSO is the single sign-on provider's name on the login page ("":
	// the page offers only the password login).
	SSO string
}

// Wrap serves the dashboard's pages and assets, and passes everything
// else (the daemon's /metrics, /healthz, /readyz) to base.
func Wrap(base http.Handler) http.Handler {
	return WrapWith(Options{})(base)
}

// WrapWith is Wrap with options.
func WrapWith(o Options) func(base http.Handler) http.Handler {
	return func(base http.Handler) http.Handler {
		h, err := New(base, o)
		if err != nil {
			// The templates are embedded: a parse error is a build
			// mistake the package's tests catch.
			panic(err)
		}

		return h
	}
}

// New is WrapWith with the templates' error returned.
func New(base http.Handler, o Options) (http.Handler, error) {
	mux := http.NewServeMux()

	files, urls, err := loadAssets()
	if err != nil {
		return nil, err
	}

	mux.HandleFunc("GET /assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}

		// The address the pages use names the content: kept for a year.
		// Any other (an old page's) is checked again each time.
		cache := "no-cache"
		if r.URL.Query().Get("v") == a.hash {
			cache = "public, max-age=31536000, immutable"
		}

		a.serve(w, r, cache)
	})

	for _, p := range Pages {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+p.Name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard page %s: %w", p.Name, err)
		}

		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, "layout", view{Page: p, Pages: Pages, Assets: urls, SSO: o.SSO}); err != nil {
			return nil, fmt.Errorf("dashboard page %s: %w", p.Name, err)
		}

		page := newAsset(buf.Bytes(), "text/html; charset=utf-8")
		pattern := "GET " + p.Path

		if p.Path == "/" {
			pattern = "GET /{$}"
		}

		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			// A page is checked again each time (its tag makes that cheap):
			// a new binary's page must name the new assets.
			page.serve(w, r, "no-cache")
		})
	}

	mux.Handle("/", base)

	return mux, nil
}

// asset is an embedded file or a rendered page, compressed once.
type asset struct {
	body, gz []byte
	ctype    string
	hash     string
	etag     string
}

func newAsset(body []byte, ctype string) *asset {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:8])

	return &asset{body: body, gz: httpgzip.Compress(body), ctype: ctype, hash: h, etag: `"` + h + `"`}
}

// loadAssets reads the embedded assets, and the address of each.
func loadAssets() (map[string]*asset, map[string]string, error) {
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, nil, err
	}

	files, urls := map[string]*asset{}, map[string]string{}

	for _, e := range entries {
		body, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, nil, err
		}

		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "application/octet-stream"
		}

		a := newAsset(body, ctype)
		files[e.Name()] = a
		urls[e.Name()] = "/assets/" + e.Name() + "?v=" + a.hash
	}

	return files, urls, nil
}

// serve answers the asset: not modified when the browser holds it, else
// compressed when the browser accepts it. The CSP is the pages' (an asset
// is never a document).
func (a *asset) serve(w http.ResponseWriter, r *http.Request, cache string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", cache)
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", a.etag)

	if matches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}

	body := a.body
	if httpgzip.Accepts(r) {
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}

	h.Set("Content-Length", strconv.Itoa(len(body)))

	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// matches says whether an If-None-Match header names the tag (weakly, as
// the header compares).
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}

	return false
}
