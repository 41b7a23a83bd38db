package templates

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSourcePath checks that the source line does not depend on the
// working directory: it is the IDL path relative to the output directory.
func TestSourcePath(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"idl", "gen/fleet"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		dir, input, out, want string
	}{
		{".", "idl/fleet.idl", "gen/fleet", "../../idl/fleet.idl"},
		{"gen/fleet", "../../idl/fleet.idl", ".", "../../idl/fleet.idl"},
		{"gen", "../idl/fleet.idl", "fleet", "../../idl/fleet.idl"},
		{"gen/fleet", "../../idl/fleet.idl", "./", "../../idl/fleet.idl"},
		{".", "fleet.idl", ".", "fleet.idl"},
		{".", "./idl/../fleet.idl", "", "fleet.idl"},
		{"idl", "fleet.idl", "../gen/fleet", "../../idl/fleet.idl"},
		{".", filepath.Join(root, "idl", "fleet.idl"), "gen/fleet", "../../idl/fleet.idl"},
		{"gen/fleet", "../../idl/fleet.idl", filepath.Join(root, "gen", "fleet"), "../../idl/fleet.idl"},
		{".", "idl/fleet.idl", "idl", "fleet.idl"},
	} {
		t.Run(tc.dir+" "+tc.input+" "+tc.out, func(t *testing.T) {
			t.Chdir(filepath.Join(root, tc.dir))
			if got := SourcePath(tc.input, tc.out); got != tc.want {
				t.Errorf("SourcePath(%q, %q) in %s = %q, want %q", tc.input, tc.out, tc.dir, got, tc.want)
			}
		})
	}
}
