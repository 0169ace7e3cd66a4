package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/demystify-resnet/repro/internal/browser"
)

// TestReportInBrowser opens report.html in headless Chromium, as a reader
// would: the page renders, every figure is displayed from the page itself,
// in-page links lead somewhere, and no request leaves the page. It checks
// the fixture's report, and also the page named by $REPORT_HTML (CI sets it
// to the smoke run's out/report.html). Without Chromium it skips, except
// under CI=true, where it fails.
func TestReportInBrowser(t *testing.T) {
	chromium, err := browser.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	f := writeFixture(t)
	_, out := runInProcess(t, map[string]any{}, map[string][]string{"checks": {f.checks}, "best": {f.best}, "figures": {f.fig}})
	pages := []string{filepath.Join(out, "report.html")}
	if p := os.Getenv("REPORT_HTML"); p != "" {
		pages = append(pages, p)
	}
	for _, page := range pages {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		r, err := browser.Check(ctx, chromium, page)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		t.Logf("%s: %+v", page, r)
		if r.Images == 0 || len(r.Broken) > 0 || r.Inline != r.Images {
			t.Errorf("%s: %d images, %d inline, broken %v: every figure must be displayed from the page itself", page, r.Images, r.Inline, r.Broken)
		}
		if len(r.Requests) > 0 {
			t.Errorf("%s: the page made requests: %v", page, r.Requests)
		}
		if len(r.DeadLinks) > 0 {
			t.Errorf("%s: in-page links to nothing: %v", page, r.DeadLinks)
		}
		if r.TextLength < 100 || r.ScrollHeight < 200 {
			t.Errorf("%s: rendered %d characters in %d px: the page does not render", page, r.TextLength, r.ScrollHeight)
		}
	}
}
