package testrun

import "testing"

func TestTag(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"", ""},
		{"r1a2b3c4", "r1a2b3c4"},
		{"a/b c-d_e", "abcde"},
		{"0123456789abcdefgh", "0123456789ab"},
		{"äöü9", "9"},
	} {
		t.Setenv(Env, c.env)
		if got := Tag(); got != c.want {
			t.Errorf("Tag() with %s=%q = %q, want %q", Env, c.env, got, c.want)
		}
	}
}
