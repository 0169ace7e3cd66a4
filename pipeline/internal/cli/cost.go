package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// printCost prints what manifest costs (engine.Costs): one row per stage,
// the totals, the extrapolation to the instances not measured yet, and the
// least wall time on each of cpus CPUs, max(total / N, critical path).
func printCost(w io.Writer, manifest string, c engine.Cost, cpus []int) {
	fmt.Fprintf(w, "cost of %s, from the store's run records: %d of %d instances measured\n", manifest, c.Measured, c.Instances)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	walls := false
	fmt.Fprintln(tw, "STAGE\tPLUGIN\tINSTANCES\tMEASURED\tCPU\tMEAN\tLONGEST\tWALL")
	for _, s := range c.Stages {
		mean := "-"
		if s.Measured > 0 {
			mean = fmtCost(s.CPU / float64(s.Measured))
		}
		mark := ""
		if s.CPUMeasured < s.Measured {
			mark, walls = "*", true
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s%s\t%s\t%s\t%s\n", s.Stage, s.Plugin, s.Instances, s.Measured,
			fmtCost(s.CPU), mark, mean, fmtCost(s.MaxCPU), fmtCost(s.Wall))
	}
	tw.Flush()
	if walls {
		fmt.Fprintln(w, "* some instances' records have no CPU time (older records): their wall time is counted")
	}
	fmt.Fprintf(w, "measured: %s of CPU (%.2f CPU-hours; %s of stage wall time)\n", fmtCost(c.CPU), c.CPU/3600, fmtCost(c.Wall))
	if c.Measured < c.Instances {
		fmt.Fprintf(w, "not measured: %d instances, ~%s of CPU at their stage's mean", c.Instances-c.Measured, fmtCost(c.Extrapolated))
		if c.Unestimated > 0 {
			fmt.Fprintf(w, ", plus %d of stages never measured", c.Unestimated)
		}
		fmt.Fprintf(w, "; total ~%.2f CPU-hours\n", (c.CPU+c.Extrapolated)/3600)
	}
	total := c.CPU + c.Extrapolated
	fmt.Fprintf(w, "critical path %s; least wall time", fmtCost(c.CriticalPath))
	for _, n := range cpus {
		if n > 0 {
			fmt.Fprintf(w, ", %d CPUs: %s", n, fmtCost(max(total/float64(n), c.CriticalPath)))
		}
	}
	fmt.Fprintln(w, " (CPU time, without queue or start-up overhead)")
}

// fmtCost formats seconds for a cost table: 0.05s, 12.3s, 4m05s, 2h03m.
func fmtCost(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 60:
		return fmt.Sprintf("%.3gs", s)
	case s < 3600:
		d := time.Duration(s * float64(time.Second)).Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d := time.Duration(s * float64(time.Second)).Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
