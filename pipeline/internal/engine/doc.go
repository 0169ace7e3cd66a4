// Package engine turns an expanded manifest into a plan of stage instances
// bound to plugins (plan.go), computes each instance's ActionID, and runs the
// plan through an Executor (run.go, schedule.go, exec.go), reusing cached
// results from the artifact store (exec.go: the one path that runs a plugin,
// runStaged); inspect.go answers questions about a plan
// without running it (Resolve) and re-executes cached stages (Verify).
package engine
