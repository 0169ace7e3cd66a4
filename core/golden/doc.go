// Package golden holds no code: its test (golden_test.go) is the proof that
// the numeric results of core/ are the same bits on every architecture. It
// computes fixed inputs through each kernel of core/kernel, a spectrum, a
// short training run, an exact ReLU (and tanh, sigmoid) Hessian of sampled
// data, the initialisations, the data statistics and a whitening, and
// compares a SHA-256 digest of every result's bits with digests recorded once
// on amd64. CI runs it natively and as an arm64 binary under qemu-user
// (`GOARCH=arm64 go test -exec qemu-aarch64-static ./core/...`); a change of
// evaluation order shows up as a digest mismatch on some machine.
//
// To re-record after a deliberate change of results:
// GOLDEN_PRINT=1 go test -run Golden -v ./core/golden, and paste the table.
package golden
