// Package browser loads a page in headless Chromium (Debian package
// `chromium`) and reports what a reader of it would get: how many images
// were displayed and which were broken, which in-page links lead nowhere,
// and every request the page made. The report test uses it to prove that
// report.html renders, shows every figure and fetches nothing.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
)

// Result is what the page showed.
type Result struct {
	Images       int      `json:"images"`        // <img> elements
	Broken       []string `json:"broken"`        // images not displayed (alt text or the start of src)
	Inline       int      `json:"inline"`        // images whose src is a data: URI
	Requests     []string `json:"requests"`      // every resource the page fetched (data: URIs excluded)
	Links        int      `json:"links"`         // in-page links (href="#...")
	DeadLinks    []string `json:"dead_links"`    // in-page links whose target id does not exist
	TextLength   int      `json:"text_length"`   // characters of visible text
	ScrollHeight int      `json:"scroll_height"` // rendered height in CSS pixels
}

// Find returns the path of a Chromium binary on PATH.
func Find() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browser: no chromium on PATH (Debian: apt-get install chromium)")
}

// probe runs after load and writes its findings into the page, where
// --dump-dom prints them.
const probe = `<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var links = Array.prototype.slice.call(document.querySelectorAll('a[href^="#"]'));
  var r = {
    images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.alt || i.src.slice(0, 60); }),
    inline: imgs.filter(function (i) { return i.src.indexOf('data:') === 0; }).length,
    requests: performance.getEntriesByType('resource').map(function (e) { return e.name; })
                .filter(function (n) { return n.indexOf('data:') !== 0; }),
    links: links.length,
    dead_links: links.map(function (a) { return a.getAttribute('href').slice(1); })
                .filter(function (id) { return id && !document.getElementById(decodeURIComponent(id)); }),
    text_length: document.body.innerText.length,
    scroll_height: document.body.scrollHeight
  };
  var pre = document.createElement('pre');
  pre.id = 'browser-probe';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
});
</script>`

var probeRE = regexp.MustCompile(`(?s)<pre id="browser-probe">(.*?)</pre>`)

// flags make Chromium headless, sandbox-free (CI runs as root) and unable
// to reach any host: a request that leaves the page fails, and is listed.
func flags() []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000"}
}

// Check loads the page at path (a copy with the probe added, so the page
// itself is not changed) and returns what it showed.
func Check(ctx context.Context, chromium, path string) (Result, error) {
	page, err := os.ReadFile(path)
	if err != nil {
		return Result{}, fmt.Errorf("browser: %w", err)
	}
	dir, err := os.MkdirTemp("", "browser-")
	if err != nil {
		return Result{}, fmt.Errorf("browser: %w", err)
	}
	defer os.RemoveAll(dir)
	var probed []byte
	if i := bytes.LastIndex(page, []byte("</body>")); i >= 0 {
		probed = append(append(append([]byte{}, page[:i]...), probe...), page[i:]...)
	} else {
		probed = append(append([]byte{}, page...), probe...)
	}
	copyPath := filepath.Join(dir, "page.html")
	if err := os.WriteFile(copyPath, probed, 0o644); err != nil {
		return Result{}, fmt.Errorf("browser: %w", err)
	}
	args := append(flags(), "--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+copyPath)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("browser: %s: %v: %s", chromium, err, lastLine(stderr.Bytes()))
	}
	m := probeRE.FindSubmatch(out)
	if m == nil {
		return Result{}, fmt.Errorf("browser: the page did not finish loading (no probe output; %d bytes of DOM)", len(out))
	}
	var r Result
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &r); err != nil {
		return Result{}, fmt.Errorf("browser: probe output: %w", err)
	}
	return r, nil
}

// Screenshot renders the page at path into a PNG of the given window size
// (for a person to look at).
func Screenshot(ctx context.Context, chromium, path, png string, width, height int) error {
	dir, err := os.MkdirTemp("", "browser-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	abs, _ := filepath.Abs(path)
	args := append(flags(), "--user-data-dir="+filepath.Join(dir, "profile"), "--hide-scrollbars",
		fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+png, "file://"+abs)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("browser: screenshot: %v: %s", err, lastLine(stderr.Bytes()))
	}
	return nil
}

func lastLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(b)
}
