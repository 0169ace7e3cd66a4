// Package analysis is what the analysis plugins (plot, report) share, as
// plugins/stagekit is what the compute plugins share: reading a stage's
// Many inputs as rows. Its subpackage num holds their number helpers.
package analysis

import (
	"fmt"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// ReadInput reads every file of req's input port name, in order, as rows of
// T (table.ReadFiles). An absent optional input gives no rows; an error
// names the port.
func ReadInput[T any](req *sdk.Request, name string) ([]T, error) {
	rows, err := table.ReadFiles[T](req.Inputs[name]...)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", name, err)
	}
	return rows, nil
}
