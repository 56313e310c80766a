package testenv

import "testing"

// weed binds each port and that port +10000 for gRPC; one overlap among them
// kills it at start (a CI run failed that way).
func TestPortsNeverOverlapTheirGRPCPorts(t *testing.T) {
	for range 50 {
		p, err := ports(5)
		if err != nil {
			t.Fatal(err)
		}

		seen := map[int]bool{}

		for _, x := range p {
			for _, y := range []int{x, x + 10000} {
				if seen[y] {
					t.Fatalf("ports %v: %d is used twice", p, y)
				}

				seen[y] = true
			}
		}
	}
}
