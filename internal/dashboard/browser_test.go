package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"lifeboat/internal/testenv"
)

// browser is headless Chromium on the site, writing its screenshots into
// dirs.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dirs []string
}

// screens are the widths and colour schemes every screen is shot in.
var screens = []struct {
	name   string
	width  int64
	scheme string
}{{"1280-light", 1280, "light"}, {"1280-dark", 1280, "dark"}, {"phone-light", 390, "light"}, {"phone-dark", 390, "dark"}}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()

	var bin string

	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}

	if bin == "" {
		t.Fatal("chromium is not installed: the dashboard is tested in a real browser; install it with `apt-get install chromium` (make test does)")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)

	t.Cleanup(func() { cancel(); cancelAlloc() })

	b := &browser{t: t, ctx: ctx, base: base, dirs: []string{filepath.Join(t.TempDir(), "screenshots")}}
	if d := os.Getenv("LIFEBOAT_SCREENSHOTS"); d != "" {
		b.dirs = append(b.dirs, d)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	return b
}

// open loads a page and waits until its script has filled it in.
func (b *browser) open(path string) {
	b.t.Helper()

	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+path)); err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}

	b.ready(path)
}

// ready waits for the page's script to finish filling it in.
func (b *browser) ready(what string) {
	b.t.Helper()
	b.wait(`document.body && document.body.dataset.ready === "true"`, what+" rendered")
}

// wait waits until the expression is true in the page.
func (b *browser) wait(expr, what string) {
	b.t.Helper()

	testenv.Eventually(b.t, 20*time.Second, func() bool {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		return err == nil && ok
	}, what)
}

// eval runs the expression in the page (awaiting a promise) into v.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()

	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage]("(async () => JSON.stringify(await ("+expr+")))()", chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}

	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		b.t.Fatalf("evaluate %s: %s: %v", expr, raw, err)
	}

	if err := json.Unmarshal([]byte(s), v); err != nil {
		b.t.Fatalf("evaluate %s: %s: %v", expr, s, err)
	}
}

func (b *browser) text(expr string) string {
	b.t.Helper()

	var s string
	b.eval(expr, &s)

	return s
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()

	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) location() string {
	b.t.Helper()
	return b.text("location.pathname + location.search")
}

// shot writes the page as it looks at each width and colour scheme.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.labelled(name)

	for _, sc := range screens {
		b.view(sc.width, sc.scheme)

		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}

		for _, d := range b.dirs {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.t.Fatal(err)
			}

			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%s-%s.png", name, sc.name)), png, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
	}

	b.view(1280, "light")
}

// view sets the viewport's width and the preferred colour scheme.
func (b *browser) view(width int64, scheme string) {
	b.t.Helper()

	b.do("emulate "+scheme, chromedp.EmulateViewport(width, 900, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
		p.Mobile = width < 700
	}), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})

		return err
	}))
}
