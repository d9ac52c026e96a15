package auth

import "testing"

func TestIPv6ClientsShareABudgetPerSlash64(t *testing.T) {
	for ip, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:203.0.113.7":   "::ffff:203.0.113.7",
		"":                     "",
		"not an address":       "not an address",
	} {
		if got := ipBudgetKey(ip); got != want {
			t.Errorf("ipBudgetKey(%q) = %q, want %q", ip, got, want)
		}
	}
}
