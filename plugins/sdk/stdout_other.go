//go:build !linux

package sdk

// protectStdout is a no-op outside Linux: stage code must not write to the
// stdout descriptor before Serve (after the handshake go-plugin redirects
// os.Stdout itself).
func protectStdout() {}
