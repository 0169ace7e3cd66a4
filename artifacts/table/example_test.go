package table_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/demystify-resnet/repro/artifacts/table"
)

// A row type: parquet tags name the columns; slices need ",list".
type lossRow struct {
	Depth int64     `parquet:"depth"`
	Init  string    `parquet:"init"`
	Loss  []float64 `parquet:"loss,list"`
}

func Example() {
	dir, _ := os.MkdirTemp("", "table")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "losses.parquet")
	rows := []lossRow{
		{Depth: 2, Init: "shortcut2", Loss: []float64{0.5, 0.25}},
		{Depth: 4, Init: "xavier", Loss: []float64{0.5, 0.45, 0.44}},
	}
	if err := table.Write(p, rows); err != nil {
		fmt.Println(err)
		return
	}
	back, _ := table.Read[lossRow](p)
	fmt.Println(back[1].Loss)
	table.Dump(os.Stdout, p, "table", 0)
	// Output:
	// [0.5 0.45 0.44]
	// depth  init       loss
	// 2      shortcut2  [0.5, 0.25]
	// 4      xavier     [0.5, 0.45, 0.44]
	// (2 of 2 rows)
}
