//go:build !linux

package host

// processCPUSeconds is not available outside Linux: a task's CPU time is
// not measured there (RunResult.CPUSeconds stays 0).
func processCPUSeconds(pid int) (float64, bool) { return 0, false }
