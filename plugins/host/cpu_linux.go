package host

import "strconv"

// clockTicks is Linux's USER_HZ, the unit of the CPU times in /proc/PID/stat:
// 100 on every architecture Linux supports (it is part of the user ABI,
// independent of the kernel's own HZ).
const clockTicks = 100

// processCPUSeconds returns the user plus system CPU time, in seconds, that
// process pid has used so far (all its threads), from /proc/PID/stat, and
// false if it cannot be read. Resolution: 1/clockTicks s.
func processCPUSeconds(pid int) (float64, bool) {
	f, ok := statFields("/proc/" + strconv.Itoa(pid) + "/stat")
	if !ok {
		return 0, false
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(ut+st) / clockTicks, true
}
