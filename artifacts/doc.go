// Package artifacts is the content-addressed store of the reproduction
// pipeline.
//
// It follows the design of cmd/go's build cache and restic:
//
//   - An ActionID names a piece of work: the sha256 of a salted, labelled,
//     canonical description built with Key. Key.Text returns exactly the bytes
//     that were hashed, so `pipeline explain` can show why two actions differ.
//   - An OutputID names bytes: the sha256 of a file's content. Objects live
//     at objects/<first two hex digits>/<full hex>, read-only (mode 0444).
//   - An action entry (actions/<ab>/<hex>) records which objects an executed
//     stage produced. A corrupt, partial or dangling entry is a cache miss,
//     never an error that stops a run.
//   - Every publication is atomic: data is written to a temporary file under
//     tmp/ and renamed into place. A SIGKILL at any point leaves either the
//     old or the new state, plus at most some garbage under tmp/ that Open
//     and GC remove. Objects and action entries are made durable in batches
//     by Sync (one syncfs), which PutRun calls before writing a run record;
//     run records and VERSION are fsynced one by one.
//   - Lock gives an exclusive inter-process lock per ActionID (flock), so two
//     pipeline processes sharing a store never compute the same action at
//     the same time.
//
// See docs/store.md for the on-disk layout and the failure model.
package artifacts
