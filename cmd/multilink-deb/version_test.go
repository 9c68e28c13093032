package main

import "testing"

func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.0":                  "1.2.0",
		"1.2.0":                   "1.2.0",
		"v1.2.0-3-gabc1234":       "1.2.0+git3.abc1234",
		"v1.2.0-3-gabc1234-dirty": "1.2.0+git3.abc1234.dirty",
		"v1.2.0-dirty":            "1.2.0+dirty",
		"1958cf0":                 "0~g1958cf0",
		"beta":                    "0~beta",
		"abc1234":                 "0~gabc1234",
		"abc1234-dirty":           "0~gabc1234+dirty",
		"v2.0.0-rc1":              "2.0.0.rc1",
		"v2.0.0_beta/x":           "2.0.0.beta.x",
		"  v1.0.0\n":              "1.0.0",
	} {
		got, err := debVersion(in)
		if err != nil || got != want {
			t.Errorf("debVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := debVersion(""); err == nil {
		t.Error("an empty version was accepted")
	}
}
