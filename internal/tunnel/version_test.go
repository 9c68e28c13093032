package tunnel

import "testing"

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		out  string
		want Version
		ok   bool
	}{
		{"OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO]\nlibrary versions: OpenSSL 3.0.19\n", Version{2, 6, 14}, true},
		{"OpenVPN 2.6.3 x86_64-pc-linux-gnu [SSL (OpenSSL)]\n", Version{2, 6, 3}, true},
		{"OpenVPN 2.7_rc2 x86_64-pc-linux-gnu\n", Version{2, 7, 0}, true},
		{"Options error: --version takes no arguments\n", Version{}, false},
		{"", Version{}, false},
	} {
		v, err := ParseVersion([]byte(c.out))
		if (err == nil) != c.ok || v != c.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v ok=%t", c.out, v, err, c.want, c.ok)
		}
	}
	if !(Version{2, 7, 0}).AtLeast(2, 7) || (Version{2, 6, 14}).AtLeast(2, 7) || !(Version{3, 0, 0}).AtLeast(2, 7) {
		t.Error("AtLeast is wrong")
	}
}
