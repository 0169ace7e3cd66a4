// Command runids prints the OutputIDs of a `pipeline run --json` record, one
// "stage-instance output id" line each, sorted, for diffing two runs
// (bench/archcheck.sh).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: runids RUN.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "runids:", err)
		os.Exit(1)
	}
	var rec struct {
		Stages []struct {
			Name    string            `json:"name"`
			Outputs map[string]string `json:"outputs"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		fmt.Fprintf(os.Stderr, "runids: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	var lines []string
	for _, s := range rec.Stages {
		for out, id := range s.Outputs {
			lines = append(lines, s.Name+" "+out+" "+id)
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}
