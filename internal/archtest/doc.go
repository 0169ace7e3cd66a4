// Package archtest holds the layering test: the import directions between the
// module's packages, each rule with its reason (layering_test.go). It has no
// code of its own; docs/design.md draws the same arrows.
package archtest
