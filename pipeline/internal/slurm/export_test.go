package slurm

// AccountingForTest exposes the accounting fallback (sacct, then sacct -c)
// to the external tests in package slurm_test.
func AccountingForTest(e *Executor, id string) (state string, exitCode int, ok bool) {
	ji, ok := e.accounting(id)
	return ji.State, ji.ExitCode, ok
}
